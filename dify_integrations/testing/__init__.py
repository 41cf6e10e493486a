"""A local Dify-compatible server speaking the real Service API wire protocol on loopback.

```python
from dify_integrations.testing import DifyTestServer

with DifyTestServer() as server:
    app = server.create_chat_app("Support")
    print(server.base_url, app.api_key)
```
"""

from ._faults import Fault, FaultKind
from ._log import LoggedRequest
from ._server import DifyTestServer
from ._settings import UploadLimits
from ._workspace import (
    App,
    Dataset,
    Document,
    Moderation,
    Responder,
    Segment,
    WorkflowHandler,
)

__all__ = [
    "App",
    "Dataset",
    "DifyTestServer",
    "Document",
    "Fault",
    "FaultKind",
    "LoggedRequest",
    "Moderation",
    "Responder",
    "Segment",
    "UploadLimits",
    "WorkflowHandler",
]
