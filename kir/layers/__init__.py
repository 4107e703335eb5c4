"""Keras-compatible layers. Each records a Node when called on symbolic tensors."""

from kir.layers.base import Layer
from kir.layers.conv import Conv1D, Conv2D, Convolution1D, Convolution2D
from kir.layers.core import Activation, Dense, Dropout, Flatten, Permute, RepeatVector, Reshape
from kir.layers.embedding import Embedding
from kir.layers.input_layer import Input, InputLayer
from kir.layers.lambda_layer import Lambda, TracedLayer
from kir.layers.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from kir.layers.normalization import BatchNormalization, LayerNormalization
from kir.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from kir.layers.recurrent import GRU, LSTM, SimpleRNN
from kir.layers.symbolic import TraceError
from kir.layers.variable import Variable
from kir.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "GRU", "LSTM", "Activation", "Add", "Average", "AveragePooling1D", "AveragePooling2D", "AvgPool1D",
    "AvgPool2D", "BatchNormalization", "Bidirectional", "Concatenate", "Conv1D", "Conv2D", "Convolution1D",
    "Convolution2D", "Dense", "Dot", "Dropout", "Embedding", "Flatten", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Input", "InputLayer", "Lambda", "Layer", "LayerNormalization",
    "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D", "Maximum", "Minimum", "Multiply", "Permute",
    "RepeatVector", "Reshape", "SimpleRNN", "Subtract", "TimeDistributed", "TraceError", "TracedLayer", "Variable",
    "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]
