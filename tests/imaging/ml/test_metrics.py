"""The model card's figures on hand-made cases."""

import numpy as np
import pytest

from imaging.ml import metrics


def test_classification_metrics_by_hand():
    probabilities = np.array(
        [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8]]
    )
    labels = np.array([0, 0, 1, 1, 2])
    result = metrics.classification_metrics(probabilities, labels, ("normal", "nodule", "opacity"))
    assert result["auroc_per_class"] == {"normal": 1.0, "nodule": 1.0, "opacity": 1.0}
    assert result["macro_auroc"] == 1.0
    assert result["accuracy"] == pytest.approx(0.8)  # image 3 is called normal
    assert result["confusion_matrix"] == [[2, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert result["n_test"] == 5


def test_auroc_of_a_class_missing_from_the_test_set_is_none():
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    result = metrics.classification_metrics(probabilities, np.array([0, 0, 0]), ("a", "b"))
    assert result["auroc_per_class"] == {"a": None, "b": None}
    assert result["macro_auroc"] is None
    with pytest.raises(ValueError, match="shape"):
        metrics.classification_metrics(probabilities, np.array([0, 1]), ("a", "b"))


def test_dice_and_iou_by_hand():
    truth = np.zeros((2, 4, 4), bool)
    truth[0, :2, :2] = True  # 4 pixels
    predicted = np.zeros((2, 4, 4), bool)
    predicted[0, :2, :1] = True  # 2 of them
    dice, iou = metrics.dice_iou(predicted, truth)
    assert dice[0] == pytest.approx(2 * 2 / 6) and iou[0] == pytest.approx(2 / 4)
    assert dice[1] == 1.0 and iou[1] == 1.0  # both empty: agreement


def test_segmentation_metrics_use_lesion_images_and_the_threshold():
    masks = np.zeros((3, 4, 4), np.uint8)
    masks[0, 1:3, 1:3] = 1
    masks[1, 0, 0] = 1
    probabilities = np.zeros((3, 4, 4))
    probabilities[0, 1:3, 1:3] = 0.9
    probabilities[2] = 0.9  # a false alarm on a normal image: not in Dice over lesion images
    result = metrics.segmentation_metrics(probabilities, masks)
    assert result == {"dice": pytest.approx(0.5), "iou": pytest.approx(0.5), "n_test": 2}
    assert metrics.segmentation_metrics(probabilities, np.zeros_like(masks)) is None


def test_pointing_game_counts_peaks_within_the_tolerance():
    masks = np.zeros((3, 20, 20), bool)
    masks[:, 10, 10] = True
    heatmaps = np.zeros((3, 20, 20))
    heatmaps[0, 10, 10] = 1  # on the lesion
    heatmaps[1, 10, 14] = 1  # 4 pixels away
    heatmaps[2, 0, 0] = 1  # far away
    assert metrics.pointing_hits(heatmaps, masks, tolerance_px=4).tolist() == [True, True, False]
    assert metrics.pointing_hits(heatmaps, masks, tolerance_px=3).tolist() == [True, False, False]
    result = metrics.pointing_game(heatmaps, masks, tolerance_px=4)
    assert result == {"pointing_game": pytest.approx(2 / 3), "n_test": 3, "tolerance_px": 4.0}
