"""Every built-in strategy passes the plugin conformance kit of ``asl_core.testing``."""

from __future__ import annotations

import pytest
from asl_strategies.losses.interpolation import InterpolationLoss
from asl_strategies.losses.masking import MaskingLoss
from asl_strategies.losses.mgw import MGWLoss, MGWParams
from asl_strategies.scorers.aghdam import AghdamScorer
from asl_strategies.scorers.apu import ApuScorer
from asl_strategies.scorers.equidistant import EquidistantScorer
from asl_strategies.scorers.gal import GalScorer
from asl_strategies.scorers.random import RandomScorer
from asl_strategies.selectors.global_greedy import GlobalSelector
from asl_strategies.selectors.local import LocalSelector
from asl_strategies.selectors.video import VideoSelector

from asl_core.testing import check_loss, check_scorer, check_selector


@pytest.mark.parametrize(
    "scorer", [RandomScorer, EquidistantScorer, ApuScorer, GalScorer, AghdamScorer]
)
def test_scorer_conforms(scorer: type) -> None:
    """The scorer satisfies the Scorer contract checks."""
    check_scorer(scorer)


@pytest.mark.parametrize("selector", [GlobalSelector, LocalSelector, VideoSelector])
def test_selector_conforms(selector: type) -> None:
    """The selector satisfies the Selector contract checks."""
    check_selector(selector)


@pytest.mark.parametrize(
    "loss", [MaskingLoss, InterpolationLoss, MGWLoss, MGWLoss(MGWParams(sigma=0.01))]
)
def test_loss_conforms(loss: object) -> None:
    """The loss satisfies the SparseLoss contract checks."""
    check_loss(loss)
