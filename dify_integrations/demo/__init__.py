"""The demo content and the ``dify-integrations demo`` / ``serve`` commands.

The content is the handbook of *Stowaway*, a fictional backup and restore service: a
knowledge base of 32 articles, a chat app and a completion app that answer from it, and
two workflow apps written in Python (ticket triage and release notes).

```python
from dify_integrations.demo import load_demo
from dify_integrations.testing import DifyTestServer

with DifyTestServer() as server:
    apps = load_demo(server)
    print(apps.chat_app_key, apps.dataset_id)
```
"""

from dify_integrations.demo._handbook import HandbookArticle, handbook_articles, handbook_documents
from dify_integrations.demo._runner import ENV_VARS, DemoTarget, run_demo, target_from_env
from dify_integrations.demo._serve import serve
from dify_integrations.demo._setup import DemoApps, load_demo

__all__ = [
    "ENV_VARS",
    "DemoApps",
    "DemoTarget",
    "HandbookArticle",
    "handbook_articles",
    "handbook_documents",
    "load_demo",
    "run_demo",
    "serve",
    "target_from_env",
]
