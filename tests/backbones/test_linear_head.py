import numpy as np

from filterspeak.backbones.linear_head import HeadParams, fit_linear_head


def test_head_separates_classes_and_reads_raw_features():
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0, 100.0], [0.0, 5.0, 100.0], [0.0, 0.0, 105.0]])  # offsets and scales differ per feature
    labels = np.repeat(np.arange(3), 50)
    features = centres[labels] + rng.normal(scale=0.5, size=(150, 3))
    weights, bias = fit_linear_head(features, labels, 3, HeadParams(epochs=200))
    assert weights.shape == (3, 3) and bias.shape == (3,)
    assert ((features @ weights.T + bias).argmax(axis=1) == labels).mean() == 1.0
