"""The benchmark's baseline: list every refresh token of the simulated org with Okta's official
Python SDK (`okta` 3.x on PyPI, `UserOAuthApi.list_refresh_tokens_for_user_and_client`,
`expand=scope`, `limit=200`, following the SDK's own pagination), 8 pairs at a time like
revokd's default concurrency. It stores nothing: it only lists and parses.

Usage: python okta_sdk_list.py ORG_URL API_TOKEN PAIRS_FILE
Prints: tokens wall_s cpu_s peak_kib  (CPU is user+sys of this whole process).
"""

import asyncio
import resource
import sys
import time

from okta.client import Client


async def main(org_url, token, pairs_file):
    client = Client(
        {
            "orgUrl": org_url.rstrip("/"),
            "token": token,
            # The simulated org listens on plain http on 127.0.0.1.
            "testing": {"testingDisableHttpsCheck": True},
        }
    )
    with open(pairs_file) as f:
        pairs = [line.split() for line in f if line.strip()]
    seen = 0
    gate = asyncio.Semaphore(8)

    async def list_pair(user, app):
        nonlocal seen
        async with gate:
            tokens, resp, err = await client.list_refresh_tokens_for_user_and_client(
                user, app, expand="scope", limit=200
            )
            if err:
                raise RuntimeError(err)
            seen += len(tokens)
            while resp.has_next():
                tokens, err = await resp.next()
                if err:
                    raise RuntimeError(err)
                seen += len(tokens)

    started = time.monotonic()
    await asyncio.gather(*(list_pair(u, c) for u, c in pairs))
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(seen, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
