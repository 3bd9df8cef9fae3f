from creditgate.kernel.errors import ErrorCode

UNKNOWN_MODEL = ErrorCode(1005, 400, "Cannot price the event: unknown model and no cost")
TIMESTAMP_OUT_OF_RANGE = ErrorCode(1006, 400, "Timestamp out of the accepted range")
INVALID_TIME_RANGE = ErrorCode(1007, 400, "Invalid time range")
METADATA_TOO_LARGE = ErrorCode(1009, 400, "Event metadata too large or too deeply nested")
