// fsutil's file-sync packet protocol: serving host directories to BuildKit and
// receiving `local` exports from it.
export { comparePath, compareUtf8 } from "./compare.ts";
export { FileSyncIOError, FileSyncPathError, FileSyncProtocolError, PeerError, TransferAbortedError, UnsafePathError } from "./errors.ts";
export { FileMode, fileModeFromPosix, isDirMode, isRegularMode, isSymlinkMode, posixFromFileMode, posixPermissions } from "./mode.ts";
export { DATA_HEADER_ROOM, PacketType, decodePacket, encodePacket, frameDataPacket } from "./packet.ts";
export type { Packet, Stat } from "./packet.ts";
export { receiveDirectory } from "./receiver.ts";
export type { ReceiveOptions, ReceiveResult } from "./receiver.ts";
export { sendDirectory } from "./sender.ts";
export type { SendOptions, SendResult } from "./sender.ts";
export { walkDirectory } from "./walk.ts";
export type { WalkEntry, WalkOptions } from "./walk.ts";
