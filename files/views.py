"""HTTP for files: the REST resource and the tus endpoint. Views only
translate between HTTP and the services/selectors."""

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator.api import ColumnRowsMixin, IsOwnerOrStaff
from aggregator.exceptions import Gone, PayloadTooLarge
from files import conf, content, selectors, services, storage, tus
from files.filters import FileUploadFilter
from files.serializers import FileUploadCreateSerializer, FileUploadSerializer

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class FileUploadViewSet(
    ColumnRowsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsAuthenticated, IsOwnerOrStaff]
    serializer_class = FileUploadSerializer
    filterset_class = FileUploadFilter
    search_fields = ["filename", "sha256"]
    ordering_fields = ["created_at", "updated_at", "filename", "size", "status"]
    lookup_value_regex = UUID_PATTERN
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return selectors.file_list_for(user=self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = FileUploadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        uploaded = serializer.validated_data["file"]
        if uploaded.size > conf.MULTIPART_MAX_SIZE:
            raise PayloadTooLarge(
                f"Files above {conf.MULTIPART_MAX_SIZE} bytes must be uploaded with tus at /api/v1/files/tus/."
            )
        upload = services.file_upload_create_from_stream(
            owner=request.user,
            stream=uploaded,
            filename=uploaded.name,
            declared_mime_type=uploaded.content_type or "",
            pipeline=serializer.validated_data.get("pipeline"),
            max_size=conf.MULTIPART_MAX_SIZE,
        )
        return Response(FileUploadSerializer(upload).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.file_upload_delete(upload=instance)

    @action(detail=True, methods=["get"])
    def content(self, request, pk=None):
        upload = self.get_object()
        blob = selectors.file_content_blob(upload=upload)
        if blob is None:
            raise Gone(
                f"The content of this file is not available (status {upload.status}, scan {upload.scan_status})."
            )
        piece = content.resolve(
            blob.size,
            range_header=request.headers.get("Range"),
            offset=request.query_params.get("offset"),
            length=request.query_params.get("length"),
        )
        response = StreamingHttpResponse(
            content.iter_slice(storage.open_stored(blob.storage_name), piece, conf.IO_BLOCK_SIZE),
            status=206 if piece.partial else 200,
            content_type="application/octet-stream",
        )
        response["Content-Length"] = str(piece.length)
        response["Accept-Ranges"] = "bytes"
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=upload.filename)
        response["X-Content-Type-Options"] = "nosniff"
        if piece.partial:
            response["Content-Range"] = piece.content_range(blob.size)
        return response

    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        upload = services.file_upload_revalidate(upload=self.get_object())
        return Response(FileUploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)


class TusBaseView(APIView):
    """tus 1.0.0. The request body is read as a stream and never through
    request.data/request.body."""

    permission_classes = [IsAuthenticated]
    parser_classes: list = []

    def initialize_request(self, request, *args, **kwargs):
        override = request.headers.get("X-HTTP-Method-Override")
        if override and override.upper() in ("PATCH", "DELETE", "HEAD"):
            request.method = override.upper()
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS":
            tus.check_version(request.headers.get("Tus-Resumable"))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = tus.TUS_VERSION
        if not isinstance(response, Response) and not response.content:
            del response["Content-Type"]  # tus answers have no body
        if response.status_code == 412:
            response["Tus-Version"] = tus.TUS_VERSION
        response["Cache-Control"] = "no-store"
        return response

    def _append(self, request, upload_id, offset: int):
        content_length = tus.parse_non_negative(request.META.get("CONTENT_LENGTH"), "Content-Length", required=False)
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        # Django's request stream stops at Content-Length; a chunked body is
        # read from the server's input, which de-chunks it.
        stream = request._request.META["wsgi.input"] if chunked else request._request
        return services.file_upload_append(
            owner=request.user,
            upload_id=upload_id,
            offset=offset,
            stream=stream,
            content_length=None if chunked else (content_length or 0),
            checksum=tus.parse_checksum(request.headers.get("Upload-Checksum")),
        )

    @staticmethod
    def _upload_headers(response: HttpResponse, upload) -> HttpResponse:
        response["Upload-Offset"] = str(upload.offset)
        if upload.status == "uploading" and upload.expires_at:
            response["Upload-Expires"] = tus.http_date(upload.expires_at)
        return response


_NO_BODY = {"request": None, "responses": {(204, "*/*"): None}}


class TusCreateView(TusBaseView):
    """The tus creation URL: OPTIONS (discovery) and POST (creation)."""

    def get_permissions(self):
        # Discovery reveals only server limits, and some clients send it bare.
        if self.request.method == "OPTIONS":
            return []
        return super().get_permissions()

    @extend_schema(**_NO_BODY, description="tus discovery: Tus-Version, Tus-Extension, Tus-Max-Size, ...")
    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=204)
        response["Tus-Version"] = tus.TUS_VERSION
        response["Tus-Extension"] = tus.EXTENSIONS
        response["Tus-Max-Size"] = str(conf.MAX_SIZE)
        response["Tus-Checksum-Algorithm"] = ",".join(tus.CHECKSUM_ALGORITHMS)
        # Not part of tus; a hint for clients that size their chunks from it.
        response["Tus-Chunk-Size"] = str(conf.CHUNK_SIZE)
        return response

    @extend_schema(request=None, responses={(201, "*/*"): None}, description="tus creation (with upload).")
    def post(self, request):
        if request.headers.get("Upload-Defer-Length") is not None:
            raise tus.InvalidInput("Upload-Defer-Length is not supported; send Upload-Length.")
        size = tus.parse_non_negative(request.headers.get("Upload-Length"), "Upload-Length")
        metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
        upload = services.file_upload_create(
            owner=request.user,
            # Stock clients may send no name at all; the content still decides the type.
            filename=metadata.get("filename") or metadata.get("name") or "upload",
            size=size,
            metadata=metadata,
            declared_mime_type=metadata.get("filetype") or metadata.get("type") or "",
            pipeline=metadata.get("pipeline"),
        )
        has_body = request.headers.get("Content-Type", "").startswith(tus.OFFSET_CONTENT_TYPE)
        if has_body and upload.status == "uploading":
            upload = self._append(request, upload.pk, 0)
        response = self._upload_headers(HttpResponse(status=201), upload)
        response["Location"] = request.build_absolute_uri(reverse("files:tus-upload", args=[upload.pk]))
        return response


class TusUploadView(TusBaseView):
    """One tus upload: HEAD (offset), PATCH (append), DELETE (termination)."""

    @extend_schema(request=None, responses={(200, "*/*"): None}, description="tus: the upload's offset.")
    def head(self, request, upload_id):
        upload = services.file_upload_head(owner=request.user, upload_id=upload_id)
        response = self._upload_headers(HttpResponse(status=200), upload)
        response["Upload-Length"] = str(upload.size)
        if upload.metadata:
            response["Upload-Metadata"] = tus.encode_metadata(upload.metadata)
        return response

    @extend_schema(**_NO_BODY, description="tus: append application/offset+octet-stream at Upload-Offset.")
    def patch(self, request, upload_id):
        if not request.headers.get("Content-Type", "").startswith(tus.OFFSET_CONTENT_TYPE):
            raise tus.UnsupportedMediaType(f"PATCH needs Content-Type: {tus.OFFSET_CONTENT_TYPE}.")
        offset = tus.parse_non_negative(request.headers.get("Upload-Offset"), "Upload-Offset")
        upload = self._append(request, upload_id, offset)
        return self._upload_headers(HttpResponse(status=204), upload)

    @extend_schema(**_NO_BODY, description="tus termination.")
    def delete(self, request, upload_id):
        upload = services.file_upload_get_resumable(owner=request.user, upload_id=upload_id)
        services.file_upload_delete(upload=upload, reason="Terminated by the client.")
        return HttpResponse(status=204)
