"""Bag-of-n-grams text baselines: NBSVM (Wang & Manning 2012) and TF-IDF + logistic regression.

scikit-learn does the vectorizing and the linear solvers. NBSVM scales binarized uni+bigram
features by the naive-Bayes log-count ratio ``r`` and fits a linear SVM (squared hinge, as the
paper's LIBLINEAR setup), then interpolates the weights towards their mean magnitude
(``w' = (1 - β) w̄ + β w``; the paper fixes β = 0.25). ``C`` (``model.c_values``) and, for NBSVM,
β (``model.nb_beta``) are chosen on the validation split; the test split is scored once. The
vectorizer is fit on the training reviews only, and turns IMDB's literal ``<br />`` tags into
spaces like the tokenizer does. Tokens are words and single punctuation marks ("!" counts).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

if TYPE_CHECKING:
    from seqbench.models.config import ModelConfig

_BREAKS = re.compile(r"<br\s*/?>", re.IGNORECASE)
TOKENS = (
    r"[\w']+|[^\w\s]"  # words (with apostrophes) and every punctuation mark: "!" and ":)" count
)


def clean(text: str) -> str:
    """Lower-case the review and replace ``<br />`` tags by spaces."""
    return _BREAKS.sub(" ", text).lower()


class NBSVM(ClassifierMixin, BaseEstimator):
    """Binary NBSVM on a sparse count matrix (labels 0/1); ``predict_proba`` is a logistic map of
    the margin (a score for ranking and McNemar's test, not a calibrated probability)."""

    def __init__(self, C: float = 1.0, beta: float = 0.25, alpha: float = 1.0, seed: int = 0):
        self.C, self.beta, self.alpha, self.seed = C, beta, alpha, seed

    def fit(self, X: Any, y: np.ndarray) -> NBSVM:
        from sklearn.svm import LinearSVC

        X = (X > 0).astype(np.float64)  # binarized features
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()  # (V,)
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.r_ = np.log((p / p.sum()) / (q / q.sum()))  # (V,) log-count ratio
        svm = LinearSVC(C=self.C, loss="squared_hinge", random_state=self.seed, max_iter=5000)
        svm.fit(X.multiply(self.r_).tocsr(), y)
        w = svm.coef_.ravel()  # (V,)
        self.coef_ = (1 - self.beta) * np.abs(w).mean() + self.beta * w
        self.intercept_ = float(svm.intercept_[0])
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        X = (X > 0).astype(np.float64)
        return np.asarray(X.multiply(self.r_) @ self.coef_).ravel() + self.intercept_  # (N,)

    def predict_proba(self, X: Any) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-self.decision_function(X)))  # (N,)
        return np.stack([1.0 - positive, positive], axis=1)  # (N, 2)

    def predict(self, X: Any) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int64)  # (N,)

    @property
    def n_weights(self) -> int:
        return int(self.coef_.size + 1)


class BagOfNgrams:
    """One bag-of-n-grams baseline: its vectorizer, the classifier settings tried on the
    validation split, and the classifier for one of them."""

    def vectorizer(self, cfg: ModelConfig) -> Any:
        raise NotImplementedError

    def grid(self, cfg: ModelConfig) -> list[dict[str, float]]:
        return [{"C": c} for c in cfg.c_values]

    def classifier(self, setting: dict[str, float], seed: int) -> Any:
        raise NotImplementedError


class NbsvmBaseline(BagOfNgrams):
    """Binarized uni+bigram counts, NBSVM."""

    def vectorizer(self, cfg: ModelConfig) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            preprocessor=clean, token_pattern=TOKENS, ngram_range=(1, cfg.ngrams), binary=True
        )

    def grid(self, cfg: ModelConfig) -> list[dict[str, float]]:
        return [{"C": c, "beta": b} for c in cfg.c_values for b in cfg.nb_beta]

    def classifier(self, setting: dict[str, float], seed: int) -> Any:
        return NBSVM(C=setting["C"], beta=setting["beta"], seed=seed)


class TfidfLogistic(BagOfNgrams):
    """Sub-linear TF-IDF of uni+bigrams (seen in two reviews at least), logistic regression."""

    def vectorizer(self, cfg: ModelConfig) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            preprocessor=clean,
            token_pattern=TOKENS,
            ngram_range=(1, cfg.ngrams),
            min_df=2,
            sublinear_tf=True,
        )

    def classifier(self, setting: dict[str, float], seed: int) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=setting["C"], solver="liblinear", random_state=seed, max_iter=1000
        )


def n_weights(classifier: Any) -> int:
    """Trainable numbers of a fitted linear classifier (weights and bias)."""
    if isinstance(classifier, NBSVM):
        return classifier.n_weights
    return int(classifier.coef_.size + classifier.intercept_.size)


class FittedBaseline:
    """A fitted bag-of-n-grams pipeline behind the ``model(x, lengths)`` call that latency
    measurement makes; :meth:`example` gives full-length synthetic reviews from its vocabulary."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def cpu(self) -> FittedBaseline:
        return self

    def eval(self) -> FittedBaseline:
        return self

    def __call__(self, texts: list[str], lengths: Any = None) -> np.ndarray:
        return self.pipeline.predict_proba(texts)  # (B, C)

    def example(self, batch: int, length: int, seed: int = 0) -> tuple[list[str], None]:
        """``batch`` reviews of ``length`` words drawn from the fitted vocabulary's unigrams."""
        names = self.pipeline[0].get_feature_names_out()
        words = np.array([w for w in names if " " not in w])
        rng = np.random.default_rng(seed)
        return [" ".join(rng.choice(words, size=length)) for _ in range(batch)], None
