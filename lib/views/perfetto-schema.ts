// The part of Perfetto's trace format that `--format perfetto` writes, as a
// .proto read by protobufjs: TracePacket with TrackEvent, TrackDescriptor and
// InternedData. Field numbers are Perfetto's (protos/perfetto/trace/
// trace_packet.proto, interned_data/interned_data.proto, track_event/
// track_event.proto, track_descriptor.proto, process_descriptor.proto,
// thread_descriptor.proto, debug_annotation.proto); only the fields used
// here are declared (a reader skips what it does not know, and so does
// Perfetto with fields it has and we leave out).
import type * as protobuf from 'protobufjs';

export const PERFETTO_PROTO = `
syntax = "proto2";
package perfetto.protos;

message Trace {
  repeated TracePacket packet = 1;
}

message TracePacket {
  optional uint64 timestamp = 8;
  optional uint32 timestamp_clock_id = 58;
  oneof data {
    TrackEvent track_event = 11;
    TrackDescriptor track_descriptor = 60;
  }
  optional uint32 trusted_packet_sequence_id = 10;
  optional InternedData interned_data = 12;
  // SEQ_INCREMENTAL_STATE_CLEARED = 1, SEQ_NEEDS_INCREMENTAL_STATE = 2
  optional uint32 sequence_flags = 13;
  optional bool first_packet_on_sequence = 87;
}

message InternedData {
  repeated EventCategory event_categories = 1;
  repeated EventName event_names = 2;
  repeated DebugAnnotationName debug_annotation_names = 3;
}

message EventCategory {
  optional uint64 iid = 1;
  optional string name = 2;
}

message EventName {
  optional uint64 iid = 1;
  optional string name = 2;
}

message DebugAnnotationName {
  optional uint64 iid = 1;
  optional string name = 2;
}

message TrackEvent {
  enum Type {
    TYPE_UNSPECIFIED = 0;
    TYPE_SLICE_BEGIN = 1;
    TYPE_SLICE_END = 2;
    TYPE_INSTANT = 3;
    TYPE_COUNTER = 4;
  }
  repeated uint64 category_iids = 3;
  repeated string categories = 22;
  oneof name_field {
    uint64 name_iid = 10;
    string name = 23;
  }
  optional Type type = 9;
  optional uint64 track_uuid = 11;
  repeated DebugAnnotation debug_annotations = 4;
}

message DebugAnnotation {
  oneof name_field {
    uint64 name_iid = 1;
    string name = 10;
  }
  oneof value {
    bool bool_value = 2;
    uint64 uint_value = 3;
    int64 int_value = 4;
    double double_value = 5;
    string string_value = 6;
    uint64 pointer_value = 7;
    string legacy_json_value = 9;
  }
  repeated DebugAnnotation dict_entries = 11;
  repeated DebugAnnotation array_values = 12;
}

message TrackDescriptor {
  optional uint64 uuid = 1;
  optional uint64 parent_uuid = 5;
  optional string name = 2;
  optional ProcessDescriptor process = 3;
  optional ThreadDescriptor thread = 4;
}

message ProcessDescriptor {
  optional int32 pid = 1;
  repeated string cmdline = 2;
  optional string process_name = 6;
}

message ThreadDescriptor {
  optional int32 pid = 1;
  optional int64 tid = 2;
  optional string thread_name = 5;
}
`;

export const SEQ_INCREMENTAL_STATE_CLEARED = 1;
export const SEQ_NEEDS_INCREMENTAL_STATE = 2;
export const TYPE_SLICE_BEGIN = 1;
export const TYPE_SLICE_END = 2;
export const TYPE_INSTANT = 3;

let root: protobuf.Root | null = null;

/** The schema's root (parsed once; protobufjs is loaded only then: it takes a tenth of a second). */
export function perfettoRoot(): protobuf.Root {
  root ??= (require('protobufjs') as typeof protobuf).parse(PERFETTO_PROTO, { keepCase: true }).root;
  return root;
}

/** perfetto.protos.Trace: a whole file, or any run of its packets (a Trace is its packets, field 1, one after another). */
export function traceType(): protobuf.Type {
  return perfettoRoot().lookupType('perfetto.protos.Trace');
}
