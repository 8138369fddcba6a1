from files.models.processing import FileConversion, FilePreview, FileProcessingJob, JobStatus, UploadPage  # noqa: F401
from files.models.uploads import FileStatus, FileType, FileUpload, ScanStatus, StoredBlob

__all__ = ["FileStatus", "FileType", "FileUpload", "ScanStatus", "StoredBlob"]
