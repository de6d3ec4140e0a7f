"""ssechat: stream LLM responses over Server-Sent Events, Unix-pipe style."""

__version__ = "0.1.0"
