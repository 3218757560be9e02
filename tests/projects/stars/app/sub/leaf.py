import time


def deep():
    time.sleep(1)
