from .heartbeat import heartbeats, report, sync_status


async def run_flow():
    with heartbeats(join_on_exit=False):
        report("https://example.com/start", send=False)
    report("https://example.com/start", verbose=False)  # expect: blocking-http (critical) via heartbeat.report > requests.post
    sync_status("https://example.com/status", check=False)  # expect: blocking-http (critical) via heartbeat.sync_status > requests.get


async def run_and_wait():
    with heartbeats():  # expect: blocking-wait (critical) via heartbeat.heartbeats > threading.Thread.join
        pass
