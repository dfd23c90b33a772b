"""FreeSWITCH event socket (ESL, inbound mode): framing, translation, the client."""
