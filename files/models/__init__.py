from files.models.uploads import FileStatus, FileType, FileUpload, ScanStatus, StoredBlob

__all__ = ["FileStatus", "FileType", "FileUpload", "ScanStatus", "StoredBlob"]
