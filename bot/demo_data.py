"""The demo's data: three classifiers trained on scikit-learn's bundled breast-cancer data, and
the "current" file with exactly two features shifted (`mlops-bot demo` logs and writes them).

scikit-learn and pandas are imported inside `train`: the CLI imports this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DROPPED = "mean_fractal_dimension"  # the feature v3 is trained without
LABEL, PREDICTION, TIMESTAMP = "label", "prediction", "ts"
SCORE, VERSION = "score", "model_version"  # v1's probability of class 1; who predicted
# the "current" data: every held-out row once, in random order (an iid sample of the same
# population as the training rows, no duplicates), with exactly two features shifted: the drift
# report must flag these two and nothing else
SHIFTED = {"mean_radius": ("×", 1.2), "mean_texture": ("+", 4.0)}
SEED = 7


@dataclass
class Trained:
    title: str
    model: Any
    features: list[str]
    metrics: dict[str, float]
    params: dict[str, str]
    reference: pd.DataFrame


def train() -> tuple[list[Trained], pd.DataFrame]:
    """Three classifiers on scikit-learn's bundled breast-cancer data; the drifted current data."""
    import numpy as np
    import pandas as pd
    from sklearn.base import clone
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )
    from sklearn.model_selection import cross_val_predict, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    data = load_breast_cancer(as_frame=True)
    x = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    y = data.target.rename(LABEL)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    candidates: list[tuple[str, Any, dict[str, str]]] = [
        (
            "random forest (baseline)",
            RandomForestClassifier(n_estimators=150, max_depth=6, random_state=0, n_jobs=1),
            {"algorithm": "random_forest", "n_estimators": "150", "max_depth": "6"},
        ),
        (
            "shallow decision tree",
            DecisionTreeClassifier(max_depth=3, random_state=0),
            {"algorithm": "decision_tree", "max_depth": "3"},
        ),
        (
            "logistic regression",
            make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000)),
            {"algorithm": "logistic_regression", "C": "0.5", "scaler": "standard"},
        ),
    ]
    all_features = list(x.columns)
    features = [all_features, all_features, [c for c in all_features if c != DROPPED]]
    for (_, model, _), cols in zip(candidates, features, strict=True):
        model.fit(x_train[cols], y_train)
    # latency of one-row scoring, measured round-robin so that machine load hits all three alike
    row = x_test.iloc[[0]]
    timings: list[list[float]] = [[] for _ in candidates]
    for _ in range(15):
        for i, (_, model, _) in enumerate(candidates):
            t0 = time.perf_counter()
            model.predict_proba(row[features[i]])
            timings[i].append((time.perf_counter() - t0) * 1000)
    trained = []
    for (title, model, params), times, cols in zip(candidates, timings, features, strict=True):
        score = model.predict_proba(x_test[cols])[:, 1]
        pred = (score >= 0.5).astype(int)
        metrics = {
            "roc_auc": float(roc_auc_score(y_test, score)),
            "accuracy": float(accuracy_score(y_test, pred)),
            "f1": float(f1_score(y_test, pred)),
            "precision": float(precision_score(y_test, pred)),
            "recall": float(recall_score(y_test, pred)),
            "latency_ms": round(float(np.median(times)), 3),
        }
        params = {
            **params,
            "dataset": "sklearn.datasets.load_breast_cancer",
            "features": str(len(cols)),
            "train_rows": str(len(x_train)),
            "random_state": str(SEED),
        }
        train = x_train[cols]
        # out-of-fold scores: what the model gives rows it did not learn from (CBPE's reference)
        oof = cross_val_predict(clone(model), train, y_train, cv=5, method="predict_proba")
        reference = train.assign(
            **{LABEL: y_train, PREDICTION: model.predict(train), SCORE: oof[:, 1]}
        )
        trained.append(
            Trained(title, model, cols, metrics, params, reference.reset_index(drop=True))
        )

    rng = np.random.default_rng(SEED)
    rows = rng.permutation(len(x_test))  # without replacement: resampled duplicates fake drift
    current = x_test.iloc[rows].reset_index(drop=True).copy()
    for name, (op, value) in SHIFTED.items():
        current[name] = current[name] * value if op == "×" else current[name] + value
    current[LABEL] = y_test.iloc[rows].to_numpy()
    current[PREDICTION] = trained[0].model.predict(current[list(x.columns)])
    current[SCORE] = trained[0].model.predict_proba(current[list(x.columns)])[:, 1]
    current[VERSION] = "1"  # the champion's predictions, whatever @champion holds later
    end = pd.Timestamp.now(tz="UTC").floor("D")
    current[TIMESTAMP] = pd.date_range(end=end, periods=len(current), freq="30min")
    return trained, current
