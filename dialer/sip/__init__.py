"""The SIP layer of the dialer: line-worker processes that place, bridge and end real SIP calls.

Why processes: the pjsua2 wheel holds at most 32 calls per process and aborts a process that admits calls
carelessly (see docs/sip.md), so each line worker is one process with one pjsua2 endpoint (own UDP port
and RTP range, ≤ 30 calls, the 0.6 s admission rule). Nothing outside `dialer.sip` imports pjsua2.

How the engine uses it (`dialer.sip.client.LineWorkerPool`):

    pool = LineWorkerPool(redis_url, pool="campaign-engine")
    w = pool.start_worker()                      # or run workers on other machines, same Redis
    pool.wait_ready([w])
    pool.send(w, CallAgent(agent_id="a1", sip_uri="sip:agent1@127.0.0.1:5070"))
    pool.send(w, DialLead(attempt_id="...", to="+12025550123", from_number="+12025550100",
                          trunk="loopback-sim", identity="eyJ...;info=<...>;alg=ES256;ppt=shaken"))
    for event in pool.events(timeout_s=0.1):     # Dialing, Ringing, Answered, Ended, WorkerDied, ...
        ...
    pool.bridge(attempt_id, agent_id)            # local or cross-worker, the pool works out which
    pool.close()

Transport (`dialer.sip.keys`): Redis lists. Commands for worker W of pool P go to
`clearline:sip:P:cmd:W` (client RPUSH, worker LPOP between event-loop pumps); every worker RPUSHes its
events to `clearline:sip:P:events`, which the pool's one client BLPOPs. Messages are the JSON of
`dialer.sip.protocol`. A worker refreshes `clearline:sip:P:alive:W` and sends `WorkerStats` about once a
second; the client reports `WorkerDied` (with the attempt ids and agent ids the worker held) when a local
worker process exits or a remote one's heartbeat stops for `heartbeat_timeout_s`.
"""
