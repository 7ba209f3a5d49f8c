"""The benchmark's baseline: list every refresh token of the simulated org with Okta's official
Python SDK (`okta` 3.x on PyPI, `UserOAuthApi.list_refresh_tokens_for_user_and_client`,
`expand=scope`, `limit=200`, following the `after` cursor of each `Link: next` with the
SDK's `PaginationHelper`), 8 pairs at a time like
revokd's default concurrency. It stores nothing: it only lists and parses.

Usage: python okta_sdk_list.py ORG_URL API_TOKEN PAIRS_FILE
Prints: tokens wall_s cpu_s peak_kib listing_cpu_s  (cpu_s is user+sys of this whole process,
the interpreter's start and the SDK's imports included, about 3 s; listing_cpu_s is the listing's
alone).
"""

import asyncio
import os
import resource
import sys
import time

from okta.client import Client
from okta.pagination import PaginationHelper


async def main(org_url, token, pairs_file):
    at_start = resource.getrusage(resource.RUSAGE_SELF)
    # The simulated org listens on plain http on 127.0.0.1. The SDK only accepts that with its
    # testing switch, which it reads from the top level of its configuration: from the
    # environment, not from the dict given to `Client` (that lands under `client`).
    os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    client = Client({"orgUrl": org_url.rstrip("/"), "token": token})
    # okta 3.4 joins the authorization mode and the token without a space ("SSWS<token>"),
    # which Okta's contract (and the simulated org) refuses: restore the separator.
    configuration = getattr(client, "configuration", None)
    if configuration is not None and configuration.authorization_mode in ("SSWS", "Bearer"):
        configuration.authorization_mode += " "
    with open(pairs_file) as f:
        pairs = [line.split() for line in f if line.strip()]
    seen = 0
    gate = asyncio.Semaphore(8)

    async def list_pair(user, app):
        nonlocal seen
        after = None
        async with gate:
            # The SDK's own pagination: the `after` cursor of each response's `Link: next`.
            while True:
                tokens, resp, err = await client.list_refresh_tokens_for_user_and_client(
                    user, app, expand="scope", limit=200, after=after
                )
                if err:
                    raise RuntimeError(err)
                seen += len(tokens or [])
                after = PaginationHelper.extract_next_cursor(resp.headers)
                if not after:
                    break

    started = time.monotonic()
    await asyncio.gather(*(list_pair(u, c) for u, c in pairs))
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    listing = cpu - (at_start.ru_utime + at_start.ru_stime)
    print(seen, wall, cpu, usage.ru_maxrss, listing)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
