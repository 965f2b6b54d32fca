"""The numeric core of disease-risk prediction: datasets, training, calibrated models with exact
explanations, artifacts. Imports neither Django nor any app, so it can be tested and benchmarked
bare (a test and import-linter check it). Import the submodules; this package imports nothing."""
