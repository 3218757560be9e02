class Checkpoints:
    def describe(self):
        return "checkpoints"


class AsyncCheckpoints(Checkpoints):
    pass
