"""Keras-compatible layers. Each records a Node when called on symbolic tensors."""

from kir.layers.base import Layer
from kir.layers.conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Convolution1D,
    Convolution1DTranspose,
    Convolution2D,
    Convolution2DTranspose,
    Convolution3D,
)
from kir.layers.core import ELU, Activation, Dense, Dropout, Flatten, Permute, RepeatVector, Reshape
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
from kir.layers.noise import AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from kir.layers.normalization import BatchNormalization, LayerNormalization
from kir.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPool3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from kir.layers.recurrent import GRU, LSTM, SimpleRNN
from kir.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from kir.layers.symbolic import TraceError
from kir.layers.variable import Variable
from kir.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "ELU", "GRU", "LSTM", "Activation", "Add", "AlphaDropout", "Average", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "BatchNormalization", "Bidirectional", "Concatenate",
    "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Convolution1D", "Convolution1DTranspose",
    "Convolution2D", "Convolution2DTranspose", "Convolution3D", "Cropping1D", "Cropping2D", "Dense", "Dot", "Dropout",
    "Embedding", "Flatten", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Input",
    "InputLayer", "Lambda", "Layer", "LayerNormalization", "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D",
    "MaxPooling2D", "MaxPooling3D", "Maximum", "Minimum", "Multiply", "Permute", "RepeatVector", "Reshape",
    "SimpleRNN", "SpatialDropout1D", "SpatialDropout2D", "Subtract", "TimeDistributed", "TraceError", "TracedLayer",
    "UpSampling1D", "UpSampling2D", "Variable", "ZeroPadding1D", "ZeroPadding2D", "add", "average", "concatenate",
    "dot", "maximum", "minimum", "multiply", "subtract",
]
