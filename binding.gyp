{
  "targets": [
    {
      "target_name": "rethook",
      "sources": [
        "native/addon.cc",
        "native/guardian/shared.cc",
        "native/guardian/standby.c",
        "native/addon_values.cc",
        "native/addon_debug.cc",
        "native/addon_fast.cc",
        "native/record/encode.cc",
        "native/record/summarize.cc",
        "native/record/json_lines.cc",
        "native/record/plain_calls.cc",
        "native/record/tree_lines.cc",
        "native/record/word_values.cc",
        "native/addon_record.cc",
        "native/dwarf/types.cc",
        "native/dwarf/unwind.cc",
        "native/session.cc",
        "native/engine/breakpoints.cc",
        "native/tracee/inject.cc",
        "native/tracee/memory.cc",
        "native/tracee/spawn.cc",
        "native/tracee/stop_wait.cc",
        "native/tracee/thread_control.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-ldw", "-lelf", "-liberty"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["RETHOOK_ARCH_X86_64"],
          "sources": ["native/arch/x86_64.cc", "native/arch/x86_64_decode.cc", "native/fast/fast_x86_64.cc", "native/fast/recorder_x86_64.S"],
          "libraries": ["-ldl"]
        }],
        ["target_arch=='arm64'", {
          "defines": ["RETHOOK_ARCH_ARM64"],
          "sources": ["native/arch/arm64.cc", "native/arch/arm64_decode.cc", "native/fast/fast_arm64.cc", "native/fast/recorder_arm64.S"]
        }]
      ]
    }
  ]
}
