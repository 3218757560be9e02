from .bases import Left, Right


class Both(Left, Right):
    # Its MRO is Both, Left, Right, SyncBase (C3): `_read` is `Right._read`, a coroutine.
    pass
