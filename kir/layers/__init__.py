"""Keras-compatible layers. Each records a Node when called on symbolic tensors."""

from kir.layers.activation_layers import LeakyReLU, PReLU, ReLU, Softmax
from kir.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from kir.layers.augmentation import RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom
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
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from kir.layers.conv_recurrent import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from kir.layers.core import ELU, Activation, Dense, Dropout, Flatten, Masking, Permute, RepeatVector, Reshape
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
from kir.layers.preprocessing import Identity, Normalization, Rescaling
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
    "AdditiveAttention", "Attention", "MultiHeadAttention",
    "ELU", "GRU", "LSTM", "Activation", "Add", "AlphaDropout", "Average", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "BatchNormalization", "Bidirectional", "Concatenate",
    "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Convolution1D", "Convolution1DTranspose",
    "Convolution2D", "Convolution2DTranspose", "Convolution3D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    "Cropping1D", "Cropping2D", "Dense", "Dot", "Dropout",
    "Embedding", "Flatten", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Input",
    "InputLayer", "Lambda", "Layer", "LayerNormalization", "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D",
    "MaxPooling2D", "MaxPooling3D", "Maximum", "Minimum", "Multiply", "Permute", "RepeatVector", "Reshape",
    "SimpleRNN", "SpatialDropout1D", "SpatialDropout2D", "Subtract", "TimeDistributed", "TraceError", "TracedLayer",
    "UpSampling1D", "UpSampling2D", "Variable", "ZeroPadding1D", "ZeroPadding2D", "add", "average", "concatenate",
    "dot", "maximum", "minimum", "multiply", "subtract",
]
__all__ += ["DepthwiseConv1D", "DepthwiseConv2D", "Identity", "LeakyReLU", "Normalization", "PReLU", "ReLU",
            "Rescaling", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
            "Softmax", "RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom"]
__all__ += ["Masking"]
