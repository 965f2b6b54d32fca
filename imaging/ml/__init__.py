"""The numeric core of imaging: synthetic phantoms, preprocessing, the CNN and U-Net, training,
ONNX serving, metrics and hospital datasets. Imports neither Django nor any app but
imaging.intake and healthmentor.artifacts, so it can be tested and benchmarked bare. TensorFlow
is imported only by networks and training; serving needs onnxruntime and numpy alone. Import the
submodules; this package imports nothing."""
