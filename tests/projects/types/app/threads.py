import concurrent.futures
import threading


def run_threadsafe(loop, callback) -> concurrent.futures.Future:
    return concurrent.futures.Future()


def report(hass, what):
    # Waits for the loop only when called from another thread: never from a coroutine on the loop.
    if hass.loop_thread_id != threading.get_ident():
        future = run_threadsafe(hass.loop, what)
        future.result()
        return
    what()


def wait_for(loop, callback):
    return run_threadsafe(loop, callback).result()
