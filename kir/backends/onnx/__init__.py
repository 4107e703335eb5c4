"""The ONNX backend: lowers a kir graph to an ONNX model and runs it with onnxruntime."""
