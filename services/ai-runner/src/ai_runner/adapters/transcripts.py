"""Transcripts in S3-compatible storage (aioboto3) or, with no S3_ENDPOINT, a local folder.
Keys are versioned: a re-score writes v2 next to v1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


class LocalTranscripts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not str(path).startswith(str(self.root.resolve())):
            raise ValueError("transcript key escapes the store")
        return path

    async def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(body)
            tmp.replace(path)

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return await asyncio.to_thread(lambda: path.read_bytes() if path.exists() else None)

    async def ready(self) -> bool:
        return True


class S3Transcripts:
    def __init__(
        self, endpoint: str, bucket: str, key: str | None, secret: str | None, region: str
    ) -> None:
        import aioboto3

        self.session = aioboto3.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=region
        )
        self.endpoint = endpoint
        self.bucket = bucket
        self._bucket_checked = False

    def _client(self) -> Any:
        return self.session.client("s3", endpoint_url=self.endpoint)

    async def _ensure_bucket(self, s3: Any) -> None:
        if self._bucket_checked:
            return
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except Exception:  # noqa: BLE001 - missing: create it (MinIO/moto in development)
            await s3.create_bucket(Bucket=self.bucket)
        self._bucket_checked = True

    async def put(self, key: str, body: bytes, content_type: str) -> None:
        async with self._client() as s3:
            await self._ensure_bucket(s3)
            await s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    async def get(self, key: str) -> bytes | None:
        async with self._client() as s3:
            try:
                response = await s3.get_object(Bucket=self.bucket, Key=key)
            except s3.exceptions.NoSuchKey:
                return None
            async with response["Body"] as stream:
                data: bytes = await stream.read()
                return data

    async def ready(self) -> bool:
        async with self._client() as s3:
            await self._ensure_bucket(s3)
            return True
