"""The continuous loop: crawl, train, evaluate, promote, reload, on a schedule."""

from erroracle.loop.conductor import Conductor
from erroracle.platform.round_history import RoundHistory

__all__ = ["Conductor", "RoundHistory"]
