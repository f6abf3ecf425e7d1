"""A pytest plugin, loaded before the SDK suite's own `tests/conftest.py`, that stands in for
the modules that conftest imports to reach Azure: the SDK team's `devtools_testutils` (region
and Azure AD credential), the Resource Manager client, `python-dotenv`, and `azure.identity`.

`get_credential` returns the gateway's policy name and key as an `AzureNamedKeyCredential`,
read from `HUBGATE_SUITE_KEY_NAME` / `HUBGATE_SUITE_KEY`. The Resource Manager client and
`azure.identity` raise when used: the fixtures that used them are replaced (see
`livetest_conftest.py` beside this file), and the tests that need them are deselected.

The SDK trusts the CA bundle `certifi.where()` names unless a test passes `connection_verify`;
here that is `HUBGATE_SUITE_CA_BUNDLE`: certifi's roots plus the CA that signed the gateway's
certificate, the way a machine's trust store would hold a private CA.
"""

import os
import sys
import types

import certifi
from azure.core.credentials import AzureNamedKeyCredential


def _credential(is_async=False, **_kwargs):
    return AzureNamedKeyCredential(os.environ["HUBGATE_SUITE_KEY_NAME"], os.environ["HUBGATE_SUITE_KEY"])


class _AzureOnly:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("needs Azure; the test using it should have been deselected")


def _module(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


_module("devtools_testutils", get_region_override=lambda default="": default, get_credential=_credential)
_module("dotenv", load_dotenv=lambda *a, **k: False)
_module("azure.mgmt", __path__=[])
_module("azure.mgmt.eventhub", EventHubManagementClient=_AzureOnly)
_module("azure.identity", __path__=[], EnvironmentCredential=_AzureOnly)
_module("azure.identity.aio", EnvironmentCredential=_AzureOnly)

if os.environ.get("HUBGATE_SUITE_CA_BUNDLE"):
    certifi.where = lambda: os.environ["HUBGATE_SUITE_CA_BUNDLE"]
