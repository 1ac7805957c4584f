"""Dataset-level samplers for image rows: drop duplicates, cap class sizes."""

import warnings
from numbers import Integral

import numpy as np
from imblearn.base import BaseSampler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["ClassCap", "DropDuplicates", "DuplicateConflictWarning"]


class DuplicateConflictWarning(UserWarning):
    """Identical rows carry different labels: no model can tell them apart.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skfocal.sampling import DropDuplicates, DuplicateConflictWarning
    >>> X = np.array([[1, 2], [1, 2], [3, 4]], dtype=np.uint8)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     X_kept, y_kept = DropDuplicates().fit_resample(X, ["a", "b", "a"])
    >>> caught[0].category is DuplicateConflictWarning, len(X_kept)
    (True, 2)
    """


def _row_groups(X):
    """Return, for each row, the index of the first row identical to it."""
    # A dict keyed by each row's bytes: exact equality whatever the dtype,
    # in one pass, keeping the order of first occurrences.
    rows = np.ascontiguousarray(X)
    first = {}
    out = np.empty(len(rows), dtype=np.intp)
    for i, row in enumerate(rows):
        out[i] = first.setdefault(row.tobytes(), i)
    return out


class DropDuplicates(BaseSampler):
    """Drop rows identical to an earlier row, keeping the first.

    Session images repeat: short sessions of one protocol often share every
    byte (a DNS query, a TLS hello), and a repeated image that lands in both
    the training and the test split inflates every score. This sampler keeps
    the first occurrence of each distinct row and drops the rest, in any
    class. Identical rows whose labels disagree are counted and reported
    with a :class:`DuplicateConflictWarning`; the first occurrence keeps its
    label.

    It changes the number of samples, so it is a sampler: put it in an
    :class:`imblearn.pipeline.Pipeline` (it then acts on training data only)
    or call :meth:`fit_resample` on the whole dataset before splitting it.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the kept rows, in their original order.
    n_duplicates_ : int
        Rows dropped as copies of an earlier row.
    n_conflicting_ : int
        Of the dropped rows, those whose label differs from the kept row's.
    n_conflicting_groups_ : int
        Distinct rows that occur with more than one label.
    conflicting_indices_ : ndarray of shape (n_rows,)
        Indices of every row (kept or dropped) of a group of identical rows
        with more than one label, sorted.
    sampling_strategy_ : dict
        imbalanced-learn's per-class targets, kept for compatibility: every
        class is cleaned.
    n_features_in_ : int
        Number of columns of ``X``.

    See Also
    --------
    ClassCap : Keep at most a number of rows per class.

    Notes
    -----
    Rows are compared byte for byte (``X`` as a dense array): two rows are
    duplicates when every value is equal, with the same dtype. For floats,
    ``0.0`` and ``-0.0`` therefore differ; byte images are integers.

    Examples
    --------
    >>> import numpy as np
    >>> from skfocal.sampling import DropDuplicates
    >>> X = np.array([[1, 2], [1, 2], [3, 4], [3, 4]], dtype=np.uint8)
    >>> y = np.array(["dns", "dns", "tls", "dns"])
    >>> dedup = DropDuplicates()
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # the 'tls'/'dns' conflict
    ...     X_res, y_res = dedup.fit_resample(X, y)
    >>> y_res.tolist(), dedup.n_duplicates_, dedup.n_conflicting_
    (['dns', 'tls'], 2, 1)
    """

    _sampling_type = "clean-sampling"
    _parameter_constraints: dict = {}

    def __init__(self):
        # No parameter: the base class's sampling_strategy is fixed below.
        pass

    @property
    def sampling_strategy(self):
        # Every class is cleaned; a read-only attribute that BaseSampler
        # reads, not a parameter (get_params follows the signature).
        return "all"

    def fit_resample(self, X, y):
        """Drop the rows identical to an earlier row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image rows (dense).
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        X_resampled : array-like of shape (n_kept, n_features)
            The first occurrence of each distinct row, in the original order.
        y_resampled : array-like of shape (n_kept,)
            Their labels.
        """
        X_res, y_res = super().fit_resample(X, y)
        if self.n_conflicting_:
            warnings.warn(
                f"{self.n_conflicting_groups_} distinct rows occur with more "
                f"than one label ({len(self.conflicting_indices_)} rows in "
                "all); "
                f"{self.n_conflicting_} copies whose label differs from the "
                "first occurrence were dropped. See conflicting_indices_.",
                DuplicateConflictWarning,
                stacklevel=2,
            )
        return X_res, y_res

    def _check_X_y(self, X, y, accept_sparse=None):
        return super()._check_X_y(X, y, accept_sparse=False)

    def _fit_resample(self, X, y):
        first = _row_groups(X)
        keep = first == np.arange(len(X))
        self.sample_indices_ = np.flatnonzero(keep)
        self.n_duplicates_ = int((~keep).sum())

        disagree = ~keep & (y != y[first])
        self.n_conflicting_ = int(disagree.sum())
        bad_groups = np.unique(first[disagree])
        self.n_conflicting_groups_ = len(bad_groups)
        self.conflicting_indices_ = np.flatnonzero(np.isin(first, bad_groups))
        return X[self.sample_indices_], y[self.sample_indices_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.sampler_tags.sample_indices = True
        return tags


class ClassCap(BaseSampler):
    """Keep at most ``max_per_class`` rows of each class.

    The paper's "upper sampling limit": classes larger than the limit are
    cut down to it, smaller classes are kept whole, so the imbalance ratio
    shrinks as the limit falls. USTC-TK2016, which made the ISCX session
    images, did the same when building them: it kept the largest sessions
    of each class, up to 6000.

    Parameters
    ----------
    max_per_class : int
        The limit, >= 1.
    strategy : {'random', 'first', 'largest'}, default='random'
        Which rows of a large class to keep.

        - 'random': a uniform random subset, drawn with ``random_state``.
        - 'first': the first rows, in the order given.
        - 'largest': the rows with the most non-zero values, ties broken by
          order. Image rows are zero-padded sessions, so this ranks sessions
          by size up to the row length, an approximation of USTC-TK's
          "largest sessions": every session of ``n_bytes`` or more fills its
          row and ties with the others, so among those the first are kept.
    random_state : int, RandomState instance or None, default=None
        Seeds the 'random' strategy; ignored otherwise.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the kept rows, in their original order.
    sampling_strategy_ : dict
        Rows kept per class.
    n_features_in_ : int
        Number of columns of ``X``.

    See Also
    --------
    DropDuplicates : Drop repeated rows.
    imblearn.under_sampling.RandomUnderSampler : Cut every class to the
        smallest class's size, or to a ratio.

    References
    ----------
    .. [1] S. Yu, "An improved focal loss for imbalanced network traffic
       classification".
    .. [2] W. Wang, M. Zhu, J. Wang, X. Zeng and Z. Yang, "End-to-end
       encrypted traffic classification with one-dimensional convolution
       neural networks", ISI 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skfocal.sampling import ClassCap
    >>> X = np.arange(20).reshape(10, 2)
    >>> y = np.array(["web"] * 7 + ["mail"] * 3)
    >>> cap = ClassCap(max_per_class=4, strategy="first")
    >>> X_res, y_res = cap.fit_resample(X, y)
    >>> y_res.tolist().count("web"), y_res.tolist().count("mail")
    (4, 3)
    >>> cap.sample_indices_.tolist()
    [0, 1, 2, 3, 7, 8, 9]
    """

    _sampling_type = "under-sampling"
    _parameter_constraints: dict = {
        "max_per_class": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"random", "first", "largest"})],
        "random_state": ["random_state"],
    }

    def __init__(self, *, max_per_class, strategy="random", random_state=None):
        self.max_per_class = max_per_class
        self.strategy = strategy
        self.random_state = random_state

    @property
    def sampling_strategy(self):
        # imbalanced-learn accepts a callable target; derived from the
        # parameters, so not a parameter itself.
        def cap(y):
            labels, counts = np.unique(y, return_counts=True)
            return {label: min(int(n), self.max_per_class)
                    for label, n in zip(labels, counts)}

        return cap

    def _check_X_y(self, X, y, accept_sparse=None):
        return super()._check_X_y(X, y, accept_sparse=False)

    def _fit_resample(self, X, y):
        rng = check_random_state(self.random_state)
        if self.strategy == "largest":
            # A stable sort on minus the size keeps earlier rows first.
            size = np.count_nonzero(X, axis=1)
        kept = []
        for label in np.unique(y):
            rows = np.flatnonzero(y == label)
            n = self.sampling_strategy_[label]
            if n >= len(rows):
                kept.append(rows)
            elif self.strategy == "random":
                kept.append(rng.choice(rows, size=n, replace=False))
            elif self.strategy == "first":
                kept.append(rows[:n])
            else:
                order = np.argsort(-size[rows], kind="stable")
                kept.append(rows[order[:n]])
        self.sample_indices_ = np.sort(np.concatenate(kept))
        return X[self.sample_indices_], y[self.sample_indices_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.sampler_tags.sample_indices = True
        return tags
