"""
Cross-entropy and focal loss on an imbalanced capture
=====================================================

A synthetic capture with two rare classes (NTP and SSH, 4% each) becomes
session images; the same small CNN is trained with cross-entropy and with
focal loss weighted by ``alpha='improved'``, and both are scored class by
class on held-out sessions. A couple of epochs keep the example fast: the
point is the figures, not the scores.
"""

# %%
# The data: 400 sessions, imbalanced, 25% held out (stratified).
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from skfocal import FocalCNNClassifier, PcapImageTransformer, read_sessions
from skfocal.datasets import make_capture
from skfocal.plotting import plot_class_scores, plot_confusion_matrix
from skfocal.reports import class_report

path = Path(tempfile.mkdtemp()) / "synthetic.pcap"
weights = {"DNS": 0.5, "HTTP": 0.25, "TLS": 0.17, "NTP": 0.04, "SSH": 0.04}
y = make_capture(path, n_sessions=400, weights=weights, random_state=0)
X = PcapImageTransformer(layers="l7").fit_transform(read_sessions(path))
X_train, X_test, y_train, y_test = train_test_split(
    X, y.astype(str), test_size=0.25, stratify=y, random_state=0)
print(X_train.shape, X_test.shape)

# %%
# Train both settings with the same seed and the same small budget.
settings = {
    "cross-entropy": FocalCNNClassifier(alpha=None, gamma=0.0),
    "focal improved": FocalCNNClassifier(alpha="improved", gamma=2.0),
}
predictions = {}
for name, clf in settings.items():
    clf.set_params(epochs=2, batch_size=32, random_state=0)
    predictions[name] = clf.fit(X_train, y_train).predict(X_test)
reports = {name: class_report(y_test, pred) for name, pred in predictions.items()}
for name, report in reports.items():
    print(f"{name}: macro-F1 {report['macro_f1']:.3f}")

# %%
# Per-class precision, recall and F1, one bar per setting.
plot_class_scores(reports)
plt.show()

# %%
# Where the focal model's mistakes go.
plot_confusion_matrix(y_test, predictions["focal improved"],
                      title="focal improved, held-out sessions")
plt.show()
