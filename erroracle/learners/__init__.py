"""Learning: the error model, its data pipeline on Ray Data, Ray Train, Ray Tune, evaluation."""

from erroracle.learners.model import ErrorModel, LabelSpace, load_model, new_model

__all__ = ["ErrorModel", "LabelSpace", "load_model", "new_model"]
