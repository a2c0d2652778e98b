"""A separate dialer-like process for the hopper tests: `python -m tests.campaigns.leaser MODE ...`.

Modes: `drain CAMPAIGN HOLDER BATCH` prints `ready`, waits for a line on stdin (so that both processes
start together however long their start-up took), then leases batches until none are left and prints
every id as one JSON list; `hold CAMPAIGN HOLDER N NOW LEASE_S` leases N leads, prints their ids and then sleeps until
killed; `lock CAMPAIGN N` locks N callable leads in an open transaction, prints their ids and sleeps.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from campaigns.hopper import lease_leads
from campaigns.models import Lead
from core.db import ALL_ORGS, Database


def main(argv: list[str]) -> None:
    db = Database(os.environ["DATABASE_URL"], pool_size=1)
    mode, campaign_id = argv[0], uuid.UUID(argv[1])
    if mode == "drain":
        holder, batch = argv[2], int(argv[3])
        db.engine.connect().close()  # imported and connected: say so, then start on the test's word
        print("ready", flush=True)
        sys.stdin.readline()
        got: list[int] = []
        while leased := lease_leads(db, campaign_id, batch, datetime.now(UTC), holder=holder, lease_s=600):
            got.extend(lead.lead_id for lead in leased)
        print(json.dumps(got), flush=True)
    elif mode == "hold":
        holder, n = argv[2], int(argv[3])
        now, lease_s = datetime.fromisoformat(argv[4]), float(argv[5])
        leased = lease_leads(db, campaign_id, n, now, holder=holder, lease_s=lease_s)
        print(json.dumps([lead.lead_id for lead in leased]), flush=True)
        time.sleep(3600)
    elif mode == "lock":
        n = int(argv[2])
        with db.session(ALL_ORGS) as s:
            ids = list(
                s.scalars(
                    select(Lead.id)
                    .where(Lead.campaign_id == campaign_id)
                    .order_by(Lead.id)
                    .limit(n)
                    .with_for_update()
                )
            )
            print(json.dumps(ids), flush=True)
            time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
