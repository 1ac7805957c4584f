"""The exceptions and the warning category of capture reading."""


class CaptureError(ValueError):
    """A capture file could not be read, in part or at all.

    Every capture problem raises a subclass of this one, so that a caller can
    catch them all in one ``except`` clause; it derives from ``ValueError``
    because the file's content, not the program, is at fault::

        ValueError
         └── CaptureError
              ├── NotACaptureError        unknown magic number
              ├── UnsupportedFormatError  a known format in a version or
              │                           variant that is not read
              ├── CorruptCaptureError     a header or block that contradicts
              │                           the format
              └── TruncatedCaptureError   the file ends inside a header or
                                          a record

    Parameters
    ----------
    message : str
        What was wrong, what is accepted and what was received.
    path : str
        The capture file.
    offset : int or None, default=None
        Byte offset in the file where the problem was found; for a
        gzip-compressed capture, the offset in the decompressed stream.

    Attributes
    ----------
    reason : str
        The message without the file name and offset.
    path : str
        The capture file.
    offset : int or None
        Byte offset of the problem, None where it is not known.

    Examples
    --------
    >>> import os, tempfile
    >>> from skfocal import read_sessions
    >>> from skfocal.capture import CaptureError
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"hello, not a capture")
    >>> try:
    ...     read_sessions(path, on_error="raise")
    ... except CaptureError as exc:
    ...     print(type(exc).__name__, exc.offset)
    NotACaptureError 0
    """

    def __init__(self, message, path, offset=None):
        where = f"{path}" if offset is None else f"{path} at byte {offset}"
        super().__init__(f"{where}: {message}")
        self.reason = message
        self.path = path
        self.offset = offset

    def __reduce__(self):
        # The default pickling replays ``args``, which hold the formatted
        # message only; joblib workers need the path and offset back too.
        return (type(self), (self.reason, self.path, self.offset))


class NotACaptureError(CaptureError):
    """The file starts with a magic number of no known capture format.

    Parameters
    ----------
    message : str
        What was wrong, what is accepted and what was received.
    path : str
        The capture file.
    offset : int or None, default=None
        Byte offset of the problem in the file.

    Examples
    --------
    >>> from skfocal.capture import CaptureError, NotACaptureError
    >>> exc = NotACaptureError("unknown magic; accepted: pcap, pcapng; got "
    ...                        "0x68656c6c", "notes.txt", 0)
    >>> isinstance(exc, CaptureError), str(exc)[:22]
    (True, 'notes.txt at byte 0: u')
    """


class UnsupportedFormatError(CaptureError):
    """The file is a capture, but in a version or variant that is not read.

    Parameters
    ----------
    message : str
        What was wrong, what is accepted and what was received.
    path : str
        The capture file.
    offset : int or None, default=None
        Byte offset of the problem in the file.

    Examples
    --------
    >>> from skfocal.capture import UnsupportedFormatError
    >>> exc = UnsupportedFormatError("pcapng version 2.0; accepted: 1.x",
    ...                              "new.pcapng", 8)
    >>> exc.path, exc.offset, exc.reason
    ('new.pcapng', 8, 'pcapng version 2.0; accepted: 1.x')
    """


class CorruptCaptureError(CaptureError):
    """A header or block of the capture contradicts its format.

    Parameters
    ----------
    message : str
        What was wrong, what is accepted and what was received.
    path : str
        The capture file.
    offset : int or None, default=None
        Byte offset of the problem in the file.

    Examples
    --------
    >>> from skfocal.capture import CorruptCaptureError
    >>> str(CorruptCaptureError("block length 7 is not a multiple of 4",
    ...                         "a.pcapng", 28))
    'a.pcapng at byte 28: block length 7 is not a multiple of 4'
    """


class TruncatedCaptureError(CaptureError):
    """The capture ends inside a file header, block or packet record.

    Parameters
    ----------
    message : str
        What was wrong, what is accepted and what was received.
    path : str
        The capture file.
    offset : int or None, default=None
        Byte offset of the problem in the file.

    Examples
    --------
    >>> import pickle
    >>> from skfocal.capture import TruncatedCaptureError
    >>> exc = TruncatedCaptureError("record of 60 bytes, 12 present", "a.pcap", 40)
    >>> pickle.loads(pickle.dumps(exc)).offset
    40
    """


class CaptureWarning(UserWarning):
    """A capture was read only in part, or some of its packets were skipped.

    Raised through :func:`warnings.warn` for what a user can act on:
    unreadable, truncated or corrupt captures, and link types that are not
    read.

    Examples
    --------
    >>> import warnings
    >>> from skfocal.capture import CaptureWarning
    >>> with warnings.catch_warnings():
    ...     # A folder with some broken captures: keep the counts, not the noise.
    ...     warnings.simplefilter("ignore", CaptureWarning)
    """
