"""Estimators with scikit-learn's interface: the MLPs and the seeds' linear models.

With scikit-learn installed they are scikit-learn estimators (clone, Pipeline, GridSearchCV and
check_estimator work); without it they keep the same methods and fitted attributes.
"""
from .linear import LinearSVM, LogisticRegression, Perceptron
from .mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "Perceptron", "LogisticRegression", "LinearSVM"]
