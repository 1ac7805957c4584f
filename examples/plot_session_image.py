"""
One session as a 28x28 image
============================

A session's image is its packets' bytes, concatenated in capture order and
read row by row. Here a TLS session of a synthetic capture is drawn twice:
with ``layers='all'`` every packet starts with its Ethernet, IP and TCP
headers (outlined, numbered by packet); with ``layers='l7'``, what the
classifier sees by default, only payloads remain and the image starts with
the ClientHello.
"""

# %%
# Write a small synthetic capture and read it back into sessions.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from skfocal import read_sessions
from skfocal.datasets import make_capture
from skfocal.plotting import plot_session_image, session_regions

path = Path(tempfile.mkdtemp()) / "synthetic.pcap"
y = make_capture(path, n_sessions=20, random_state=0)
sessions = read_sessions(path)
tls = sessions[list(y).index("TLS")]
print(tls)

# %%
# Where each packet's headers and payload land in the image.
for start, stop, kind, packet in session_regions(tls)[:8]:
    print(f"bytes {start:3d} to {stop:3d}: packet {packet + 1} {kind}")

# %%
# Draw both views side by side.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
plot_session_image(tls, layers="all", ax=axes[0], legend=False)
plot_session_image(tls, layers="l7", ax=axes[1])
plt.show()
