"""Image preview: a thumbnail made by Pillow with decompression-bomb limits."""

import io
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from files.previews import conf
from files.previews.base import Limits, Preview, PreviewError


def preview_image(path: Path, limits: Limits) -> Preview:
    size = conf.THUMBNAIL_SIZE
    limit = conf.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we
            # refuse anything over our limit, checked before decoding.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise PreviewError(
                        f"Image of {width}x{height} pixels is over the {limit} pixel limit (decompression bomb?)."
                    )
                source_format = image.format
                image.draft("RGB", (size, size))  # JPEG decodes at a reduced scale.
                image.thumbnail((size, size))
                has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                thumb = image.convert("RGBA" if has_alpha else "RGB")
                out = io.BytesIO()
                if has_alpha:
                    thumb.save(out, format="PNG", optimize=True)
                    content_type = "image/png"
                else:
                    thumb.save(out, format="JPEG", quality=85)
                    content_type = "image/jpeg"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PreviewError(f"Image refused as a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PreviewError(f"Not a readable image: {exc}") from None
    return Preview(
        data={
            "kind": "image",
            "columns": [],
            "rows": [],
            "total_rows": None,
            "width": width,
            "height": height,
            "format": source_format,
            "thumbnail": {"width": thumb.width, "height": thumb.height, "content_type": content_type},
        },
        thumbnail=out.getvalue(),
        thumbnail_content_type=content_type,
    )
