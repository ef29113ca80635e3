"""Loaded by every Python subprocess the tests start (via PYTHONPATH): fail on any network
connection, so an accidental download or phone-home breaks the test that caused it."""

import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guard(sock, address):  # type: ignore[no-untyped-def]
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"teachbot test guard: network connection to {address!r} attempted")


def _connect(self, address):  # type: ignore[no-untyped-def]
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):  # type: ignore[no-untyped-def]
    _guard(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
