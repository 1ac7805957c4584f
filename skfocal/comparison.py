"""Compare loss settings and resampling baselines on one held-out split."""

import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from skfocal.reports import class_report

__all__ = ["SAMPLERS", "compare", "make_settings"]

# Baselines from imbalanced-learn, by the short names the command line uses.
SAMPLERS = {
    "ros": "RandomOverSampler",
    "rus": "RandomUnderSampler",
    "smote": "SMOTE",
}


def _sampler(name, random_state):
    from imblearn import over_sampling, under_sampling

    if name not in SAMPLERS:
        raise ValueError(
            f"baselines must be among {sorted(SAMPLERS)}. Received: {name!r}"
        )
    module = under_sampling if name == "rus" else over_sampling
    return getattr(module, SAMPLERS[name])(random_state=random_state)


def _alpha_name(alpha):
    if alpha is None:
        return "focal"
    if isinstance(alpha, str):
        return f"focal {alpha}"
    return f"focal α={alpha:g}"


def make_settings(*, alphas=(0.25, "improved"), gamma=2.0, baselines=("ros",),
                  alpha_scale=10.0, random_state=0):
    """List the settings to compare, each a one-point parameter grid.

    Cross-entropy comes first, then focal loss with each ``alpha`` (at
    ``gamma``), then each resampling baseline trained with cross-entropy.

    Parameters
    ----------
    alphas : sequence of {None, float, str}, default=(0.25, 'improved')
        The ``alpha`` values of :class:`~skfocal.FocalCNNClassifier` to try
        with focal loss.
    gamma : float, default=2.0
        The focusing parameter of the focal settings.
    baselines : sequence of {'ros', 'rus', 'smote'}, default=('ros',)
        imbalanced-learn samplers put before the classifier.
    alpha_scale : float, default=10.0
        The paper's K, for ``alpha='improved'``.
    random_state : int, default=0
        Seed of the samplers.

    Returns
    -------
    settings : list of (str, dict)
        A name and a parameter grid for the pipeline of :func:`compare`.

    Examples
    --------
    >>> [name for name, _ in make_settings()]
    ['cross-entropy', 'focal α=0.25', 'focal improved', 'ros + cross-entropy']
    """
    settings = [("cross-entropy", {"sampler": ["passthrough"],
                                   "cnn__alpha": [None], "cnn__gamma": [0.0]})]
    for alpha in alphas:
        settings.append((_alpha_name(alpha), {
            "sampler": ["passthrough"], "cnn__alpha": [alpha],
            "cnn__gamma": [float(gamma)], "cnn__alpha_scale": [alpha_scale],
        }))
    for name in baselines:
        settings.append((f"{name} + cross-entropy", {
            "sampler": [_sampler(name, random_state)],
            "cnn__alpha": [None], "cnn__gamma": [0.0],
        }))
    return settings


def compare(X, y, *, settings=None, estimator=None, cv=3, test_size=0.2,
            random_state=0, verbose=0):
    """Cross-validate settings, then fit each on the training split and test.

    The data is split once, stratified, into training and held-out test
    rows. ``GridSearchCV`` scores every setting by macro-F1 over ``cv``
    stratified folds of the training rows; then each setting is fitted on
    all training rows and evaluated on the test rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_bytes)
        Image rows, for example from :class:`~skfocal.PcapImageTransformer`.
    y : array-like of shape (n_samples,)
        Labels.
    settings : list of (str, dict), default=None
        From :func:`make_settings`; its defaults when None.
    estimator : FocalCNNClassifier, default=None
        The classifier to configure; ``FocalCNNClassifier()`` when None.
    cv : int, default=3
        Stratified folds for the grid search; 0 or 1 skips it.
    test_size : float, default=0.2
        Fraction of rows held out for the test.
    random_state : int, default=0
        Seed of the split, the folds and the classifier.
    verbose : int, default=0
        Print progress when positive.

    Returns
    -------
    results : dict
        ``'results'``: one dict per setting with ``'setting'``,
        ``'params'``, ``'cv_macro_f1'`` (mean, std or None), ``'fit_time'``,
        ``'report'`` (see :func:`skfocal.reports.class_report`) and
        ``'y_pred'`` (its predictions for the test rows); ``'y_test'``: the
        test labels; ``'split'``: sizes and seed of the split.
    """
    from imblearn.pipeline import Pipeline

    from skfocal._classifier import FocalCNNClassifier

    if settings is None:
        settings = make_settings(random_state=random_state)
    if estimator is None:
        estimator = FocalCNNClassifier(random_state=random_state)
    y = np.asarray(y)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    labels = np.unique(y)
    pipe = Pipeline([("sampler", "passthrough"), ("cnn", estimator)])

    cv_scores = [None] * len(settings)
    if cv and cv > 1:
        search = GridSearchCV(
            pipe, [grid for _, grid in settings], scoring="f1_macro",
            cv=StratifiedKFold(cv, shuffle=True, random_state=random_state),
            refit=False, error_score="raise",
            # 2 prints one line per fit: the only progress a long search shows.
            verbose=2 if verbose else 0,
        )
        search.fit(X_train, y_train)
        # One grid point per setting, in order: cv_results_ follows the grid.
        means = search.cv_results_["mean_test_score"]
        stds = search.cv_results_["std_test_score"]
        cv_scores = [(float(m), float(s)) for m, s in zip(means, stds)]

    results = []
    for (name, grid), cv_score in zip(settings, cv_scores):
        params = {key: values[0] for key, values in grid.items()}
        model = clone(pipe).set_params(**params)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_time = time.perf_counter() - start
        y_pred = model.predict(X_test)
        report = class_report(y_test, y_pred, labels=labels)
        if verbose:
            print(f"{name}: test macro-F1 {report['macro_f1']:.3f} "
                  f"({fit_time:.0f} s)", flush=True)
        results.append({
            "setting": name,
            "params": {k: repr(v) for k, v in params.items()},
            "cv_macro_f1": cv_score,
            "fit_time": fit_time,
            "report": report,
            "y_pred": y_pred,
        })
    return {
        "results": results,
        "y_test": y_test,
        "split": {"train": len(y_train), "test": len(y_test),
                  "test_size": test_size, "random_state": random_state,
                  "cv": cv},
    }
