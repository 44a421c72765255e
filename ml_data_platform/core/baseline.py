"""A simple baseline model: does the data carry signal, and does test look leaked?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ml_data_platform.core.quality import ERROR, WARN, Outcome

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

FIT_ROWS = 200_000  # a baseline answers "is there signal?"; more rows only cost time


def fit_and_score(
    matrices: dict[str, tuple[np.ndarray, np.ndarray]], seed: int, fit_rows: int = FIT_ROWS
) -> tuple[LogisticRegression, dict[str, dict[str, float]]]:
    """Logistic regression fitted on train (a seeded sample of at most `fit_rows` rows);
    accuracy, macro-F1 and ROC-AUC on every split, plus the majority-class accuracy each
    split would get for free."""
    # imported here: scikit-learn costs ~1 s at import, which commands that never fit skip
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    X_train, y_train = matrices["train"]
    if len(y_train) > fit_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(y_train), fit_rows, replace=False))
        X_fit, y_fit = X_train[rows], y_train[rows]
    else:
        X_fit, y_fit = X_train, y_train
    model = LogisticRegression(max_iter=1000, random_state=seed)
    model.fit(X_fit, y_fit)
    majority = np.bincount(y_train).argmax()
    scores = {}
    for name, (X, y) in matrices.items():
        predicted = model.predict(X)
        proba = model.predict_proba(X)
        if len(model.classes_) == 2:
            auc = roc_auc_score(y, proba[:, 1]) if len(np.unique(y)) == 2 else float("nan")
        else:
            present = np.isin(model.classes_, np.unique(y)).all()
            auc = (
                roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_) if present else float("nan")
            )
        scores[name] = {
            "accuracy": float(accuracy_score(y, predicted)),
            "macro_f1": float(f1_score(y, predicted, average="macro")),
            "roc_auc": float(auc),
            "majority_accuracy": float(np.mean(y == majority)),
            "rows": float(len(y)),
        }
    scores["train"]["fitted_on_rows"] = float(len(y_fit))
    return model, scores


def check_signal(scores: dict[str, dict[str, float]], margin: float) -> Outcome:
    """WARN when the model is no better than always predicting the majority class on val."""
    val = scores["val"]
    passed = val["accuracy"] > val["majority_accuracy"] + margin
    return Outcome(
        passed=passed,
        summary=f"val accuracy {val['accuracy']:.3f} vs majority class {val['majority_accuracy']:.3f}"
        + ("" if passed else f": no better by {margin:.0%}, the features carry no signal the model finds"),
        observed={"val_accuracy": val["accuracy"], "majority_accuracy": val["majority_accuracy"]},
        threshold={"margin": margin},
        severity=WARN,
        metric="val_accuracy_over_majority",
        value=round(val["accuracy"] - val["majority_accuracy"], 4),
        limit=margin,
    )


def check_leakage(
    scores: dict[str, dict[str, float]], perfect: float = 0.999, chance: float = 0.001
) -> Outcome:
    """ERROR when test is (near) perfect while train is not, and a split of test's size would
    rarely be perfect by chance at train's accuracy: test rows likely leaked in.

    Train accuracy is an optimistic estimate of the model's, so the chance is if anything
    overstated; a 22-row test split of an easy table (iris) is perfect half the time."""
    train, test = scores["train"]["accuracy"], scores["test"]["accuracy"]
    rows = int(scores["test"].get("rows", 0))
    by_chance = float(train**rows) if rows else 0.0  # P(every test row right | train's accuracy)
    perfect_test = test >= perfect and train < perfect
    suspicious = perfect_test and by_chance < chance
    summary = f"test accuracy {test:.4f}" + (f" on {rows} rows" if rows else "") + f", train {train:.4f}"
    if suspicious:
        summary += ": test is perfect while train is not, which points at leakage"
    elif perfect_test:
        summary += f": a perfect test split this small is likely by chance (p={by_chance:.2g})"
    return Outcome(
        passed=not suspicious,
        summary=summary,
        observed={"train_accuracy": train, "test_accuracy": test, "test_rows": rows, "chance": by_chance},
        threshold={"perfect": perfect, "chance": chance},
        severity=ERROR,
        metric="test_accuracy",
        value=round(test, 4),
        limit=perfect,
    )
