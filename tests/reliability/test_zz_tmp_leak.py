import asyncio, socket
import aiohttp
import pytest
pytestmark = [pytest.mark.filterwarnings("error::ResourceWarning"), pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")]

def test_session_leak(apps):
    async def go():
        s = aiohttp.ClientSession()
        async with s.get(apps.server.base_url + "/") as r:
            await r.read()
    asyncio.run(go())

def test_socket_leak():
    s = socket.socket(); del s

def test_cycle_socket_leak():
    class A: pass
    a = A(); a.me = a; a.s = socket.socket(); del a
