// Empty translation unit that owns the shared LibTorch precompiled header (see Helpers.cmake).
