"""The file storage of an app instance, built from settings once and kept on the app state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.deps import StateDep
from api.settings import StorageSettings
from reports.storage import LocalStorage, S3Storage, Storage


def make_storage(cfg: StorageSettings) -> Storage:
    """S3 when a bucket is configured, the local folder otherwise."""
    if cfg.s3_bucket:
        return S3Storage(
            cfg.s3_bucket,
            endpoint_url=cfg.s3_endpoint_url,
            region=cfg.s3_region,
            access_key_id=(
                cfg.s3_access_key_id.get_secret_value() if cfg.s3_access_key_id else None
            ),
            secret_access_key=(
                cfg.s3_secret_access_key.get_secret_value() if cfg.s3_secret_access_key else None
            ),
        )
    return LocalStorage(cfg.local_dir)


def get_storage(state: StateDep) -> Storage:
    """This app's storage (made on first use)."""
    if state.storage is None:
        state.storage = make_storage(state.settings.storage)
    return state.storage


StorageDep = Annotated[Storage, Depends(get_storage)]
