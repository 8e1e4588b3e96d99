"""Adapters that come and go at run time: folders in RUNTIME_ADAPTERS_DIR that a route names.

When a route names a model the proxy does not serve and a folder of that name sits in the runtime
adapters volume, the adapter is checked (adapter_config.json, peft type, rank against vLLM's
--max-lora-rank, the base model it was made for), loaded into vLLM through its runtime adapter
API, and served by the proxy under its name; when no route names it any more, or its folder goes,
it is unloaded again. A broken adapter is logged and counted with its problem, and its route is
answered by the base model, as for any unavailable adapter.

Why the proxy loads adapters instead of vLLM's filesystem resolver plugin (same code in vLLM 0.9.1,
the chart's image, and 0.32): the resolver takes an adapter only when its base_model_name_or_path
equals the path vLLM loaded the model from (/mnt/models), so real adapters are turned away with a
plain 404; it never unloads; and it loads whatever folder name a request names, so any caller of
vLLM decides what is loaded. Here only names from the routes ConfigMap are loaded, after a check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import httpx

from dynamic_model_router.log import event
from dynamic_model_router.observe import metrics

# A model name, as the chart allows them: no path separators, so a name is always one folder.
NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


class Problem(StrEnum):
    BAD_CONFIG = "bad-config"
    NOT_LORA = "not-lora"
    RANK_TOO_HIGH = "rank-too-high"
    BASE_MODEL_MISMATCH = "base-model-mismatch"
    NO_WEIGHTS = "no-weights"
    LOAD_FAILED = "load-failed"
    MISSING = "missing"


def check(folder: Path, base_models: Collection[str], max_rank: int) -> tuple[Problem, str] | None:
    """What is wrong with the adapter in `folder`, or None if vLLM can be asked to load it."""
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return Problem.BAD_CONFIG, f"adapter_config.json cannot be read as JSON: {e}"
    if not isinstance(config, dict):
        return Problem.BAD_CONFIG, "adapter_config.json is not a JSON object"
    if config.get("peft_type") != "LORA":
        return Problem.NOT_LORA, f"peft_type is {config.get('peft_type')!r}, not 'LORA'"
    ranks = [config.get("r"), *(config.get("rank_pattern") or {}).values()]
    if not all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in ranks):
        return Problem.BAD_CONFIG, f"the LoRA rank r is {config.get('r')!r}, not a whole number above 0"
    if max(ranks) > max_rank:
        return Problem.RANK_TOO_HIGH, f"LoRA rank {max(ranks)} is above vLLM's --max-lora-rank {max_rank}"
    base = config.get("base_model_name_or_path")
    if base not in base_models:
        return (
            Problem.BASE_MODEL_MISMATCH,
            f"made for base model {base!r}; this vLLM serves {', '.join(map(repr, sorted(base_models)))}",
        )
    if not any((folder / name).is_file() for name in WEIGHTS):
        return Problem.NO_WEIGHTS, f"no {' or '.join(WEIGHTS)}"
    return None


class Models(Protocol):
    """Where the proxy's served models change (LiteLLM's router in the proxy)."""

    def add(self, name: str, base_model: str) -> None: ...

    def remove(self, name: str) -> None: ...


class RuntimeAdapters:
    """The runtime adapters the routes name: checked, loaded into vLLM, served, and unloaded."""

    def __init__(
        self,
        folder: Path,
        vllm_url: str,
        base_models: Collection[str],
        max_rank: int,
        models: Models,
        api_key: str | None = None,
    ):
        self.folder = folder
        self.vllm_url = vllm_url.rstrip("/")
        self.base_models = set(base_models)
        self.max_rank = max_rank
        self.models = models
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # name -> the folder's state when it was loaded (a new state is loaded again, in place)
        self.loaded: dict[str, tuple[float, ...]] = {}
        # name -> (problem, detail) of each named adapter that cannot be served now
        self.broken: dict[str, tuple[Problem, str]] = {}
        self._lock = asyncio.Lock()

    def present(self) -> set[str]:
        """The adapter folders in the volume (by name), whether good or not."""
        try:
            return {p.name for p in self.folder.iterdir() if p.is_dir() and NAME.match(p.name)}
        except OSError:
            return set()

    def _state(self, folder: Path) -> tuple[float, ...]:
        files = [folder / "adapter_config.json", *(folder / name for name in WEIGHTS)]
        return tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files)

    def unavailable(self, wanted: Collection[str]) -> dict[str, str]:
        """Each of `wanted` that is a runtime adapter (its folder is there, or it was found broken)
        but is not served now, and why (for the log line of its requests). Other names are no
        adapters at all: the routes name a model nobody serves."""
        why = {name: f"{problem}: {detail}" for name, (problem, detail) in self.broken.items()}
        candidates = (set(wanted) - set(self.loaded)) & (self.present() | set(self.broken))
        return {name: why.get(name, "not loaded yet") for name in candidates}

    async def sync(self, wanted: Collection[str], base_model: str) -> None:
        """Make vLLM and the proxy serve exactly the runtime adapters in `wanted` that are good;
        their requests fall back to `base_model` if one fails."""
        async with self._lock, httpx.AsyncClient(timeout=120, headers=self.headers) as client:
            present = self.present()
            for name in sorted(set(wanted)):
                if name not in present:
                    # An adapter whose folder went is missing; a name never seen is no adapter.
                    if name in self.loaded or name in self.broken:
                        await self._retire(client, name, "its folder is gone")
                        self._fail(name, Problem.MISSING, f"no folder {self.folder / name}")
                    continue
                folder = self.folder / name
                state = self._state(folder)
                if self.loaded.get(name) == state:
                    continue
                found = check(folder, self.base_models, self.max_rank)
                if found is None:
                    found = await self._load(client, name, folder, base_model)
                if found is not None:
                    await self._retire(client, name, "it is broken")
                    self._fail(name, *found)
                    continue
                self.loaded[name] = state
                self.broken.pop(name, None)
                metrics.RUNTIME_ADAPTERS.labels(adapter=name).set(1)
                event(logging.INFO, "runtime_adapter_loaded", adapter=name, path=str(folder))
            for name in sorted(set(self.loaded) - set(wanted)):
                await self._retire(client, name, "no route names it")
            for name in set(self.broken) - set(wanted):
                del self.broken[name]

    async def _load(
        self, client: httpx.AsyncClient, name: str, folder: Path, base_model: str
    ) -> tuple[Problem, str] | None:
        # An adapter already loaded whose files changed (a new version in place) is loaded again.
        in_place = name in self.loaded
        body: dict[str, Any] = {"lora_name": name, "lora_path": str(folder), "load_inplace": in_place}
        try:
            response = await client.post(f"{self.vllm_url}/load_lora_adapter", json=body)
        except httpx.HTTPError as e:
            return Problem.LOAD_FAILED, f"vLLM could not be reached: {type(e).__name__}"
        if response.is_success or "has already been loaded" in response.text:
            if not in_place:
                self.models.add(name, base_model)
            return None
        return Problem.LOAD_FAILED, f"vLLM refused it ({response.status_code}): {response.text[:300]}"

    async def _retire(self, client: httpx.AsyncClient, name: str, why: str) -> None:
        if name not in self.loaded:
            return
        del self.loaded[name]
        self.models.remove(name)
        metrics.RUNTIME_ADAPTERS.labels(adapter=name).set(0)
        try:
            response = await client.post(f"{self.vllm_url}/unload_lora_adapter", json={"lora_name": name})
            unloaded = response.is_success or response.status_code == 404
        except httpx.HTTPError:
            unloaded = False
        event(logging.INFO, "runtime_adapter_unloaded", adapter=name, why=why, unloaded_from_vllm=unloaded)

    def _fail(self, name: str, problem: Problem, detail: str) -> None:
        if self.broken.get(name) == (problem, detail):
            return
        self.broken[name] = (problem, detail)
        metrics.RUNTIME_ADAPTER_PROBLEMS.labels(adapter=name, problem=str(problem)).inc()
        event(
            logging.ERROR,
            "runtime_adapter_broken",
            adapter=name,
            problem=str(problem),
            detail=detail,
            hint="its route is answered by the base model until the folder is fixed",
        )


class LiteLLMModels:
    """Runtime adapters as LiteLLM deployments, made like the base model's (same vLLM, same key),
    with the same fallback to the base model as the chart's adapters have."""

    def _router(self) -> Any:
        from litellm.proxy import proxy_server

        return proxy_server.llm_router

    def add(self, name: str, base_model: str) -> None:
        from litellm.types.router import Deployment, LiteLLM_Params

        router = self._router()
        [base] = router.get_model_list(model_name=base_model)
        params = LiteLLM_Params(**{**base["litellm_params"], "model": f"hosted_vllm/{name}"})
        router.add_deployment(
            Deployment(model_name=name, litellm_params=params, model_info={"id": _id(name)})
        )
        router.fallbacks = [*(router.fallbacks or []), {name: [base_model]}]

    def remove(self, name: str) -> None:
        router = self._router()
        router.delete_deployment(id=_id(name))
        router.fallbacks = [f for f in router.fallbacks or [] if name not in f]


def _id(name: str) -> str:
    return f"runtime-adapter-{name}"


def from_environment() -> RuntimeAdapters | None:
    """The runtime adapters the chart turned on (RUNTIME_ADAPTERS_DIR), or None."""
    folder = os.environ.get("RUNTIME_ADAPTERS_DIR")
    if not folder:
        return None
    return RuntimeAdapters(
        Path(folder),
        os.environ["VLLM_API_BASE"],
        [name for name in os.environ.get("RUNTIME_ADAPTERS_BASE_MODELS", "").split(",") if name],
        int(os.environ.get("RUNTIME_ADAPTERS_MAX_RANK", "16")),
        LiteLLMModels(),
        os.environ.get("VLLM_API_KEY"),
    )
