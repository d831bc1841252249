# Finds every build dependency. A missing one stops the configure with the Debian package to install
# (scripts/setup installs them all).

include(FindPkgConfig)

function(tailor_missing what how)
  message(FATAL_ERROR "tailor: ${what} not found. ${how}")
endfunction()

macro(tailor_find_config pkg debian)
  find_package(${pkg} CONFIG QUIET)
  if(NOT ${pkg}_FOUND)
    tailor_missing("${pkg}" "Install the Debian package '${debian}' (or run scripts/setup).")
  endif()
endmacro()

macro(tailor_find_pkgconfig prefix module debian)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
  if(NOT ${prefix}_FOUND)
    tailor_missing("${module} (pkg-config)" "Install the Debian package '${debian}' (or run scripts/setup).")
  endif()
endmacro()

find_package(Threads REQUIRED)
tailor_find_config(nlohmann_json nlohmann-json3-dev)
tailor_find_config(yaml-cpp libyaml-cpp-dev)
tailor_find_config(CLI11 libcli11-dev)
tailor_find_config(Eigen3 libeigen3-dev)
tailor_find_config(GTest libgtest-dev)
tailor_find_pkgconfig(SENTENCEPIECE sentencepiece libsentencepiece-dev)
tailor_find_pkgconfig(PCRE2 libpcre2-8 libpcre2-dev)
tailor_find_pkgconfig(XXHASH libxxhash libxxhash-dev)
tailor_find_pkgconfig(ICU icu-uc libicu-dev)  # Unicode normalization (NFC) for tokenizers
find_package(HDF5 QUIET COMPONENTS C CXX)
if(NOT HDF5_FOUND)
  tailor_missing("HDF5 (C and C++ API)" "Install the Debian package 'libhdf5-dev' (or run scripts/setup).")
endif()
add_library(tailor_hdf5 INTERFACE)
target_include_directories(tailor_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(tailor_hdf5 INTERFACE ${HDF5_CXX_LIBRARIES} ${HDF5_C_LIBRARIES})
target_compile_definitions(tailor_hdf5 INTERFACE ${HDF5_DEFINITIONS})

# LibTorch comes from the pinned PyPI torch wheel in .venv (see scripts/requirements.txt). We build the
# imported target by hand instead of calling find_package(Torch): the wheel's Caffe2 config insists on a
# CUDA toolkit matching its own, which would make CUDA mandatory for a CPU-only build.
file(GLOB _torch_guess "${PROJECT_SOURCE_DIR}/.venv/lib/python3*/site-packages/torch")
set(TAILOR_TORCH_DIR "${_torch_guess}" CACHE PATH "The torch package folder (site-packages/torch) providing LibTorch")
if(NOT EXISTS "${TAILOR_TORCH_DIR}/include/torch/headeronly/version.h" OR NOT EXISTS "${TAILOR_TORCH_DIR}/lib/libtorch.so")
  tailor_missing("LibTorch" "Run scripts/setup (it installs the pinned torch wheel into .venv) or pass -DTAILOR_TORCH_DIR=<site-packages/torch>.")
endif()
file(STRINGS "${TAILOR_TORCH_DIR}/include/torch/headeronly/version.h" _tv REGEX "define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3" TAILOR_TORCH_VERSION "${_tv}")

add_library(tailor_torch INTERFACE)
target_include_directories(tailor_torch SYSTEM INTERFACE
  "${TAILOR_TORCH_DIR}/include" "${TAILOR_TORCH_DIR}/include/torch/csrc/api/include")
target_compile_definitions(tailor_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1)
set(_tl "${TAILOR_TORCH_DIR}/lib")
target_link_libraries(tailor_torch INTERFACE "${_tl}/libtorch.so" "${_tl}/libtorch_cpu.so" "${_tl}/libc10.so" Threads::Threads)
set(TAILOR_TORCH_CUDA OFF)
if(EXISTS "${_tl}/libtorch_cuda.so")
  # --no-as-needed: nothing references libtorch_cuda by symbol, but loading it registers the CUDA backend.
  set(TAILOR_TORCH_CUDA ON)
  target_link_libraries(tailor_torch INTERFACE "-Wl,--no-as-needed" "${_tl}/libtorch_cuda.so" "${_tl}/libc10_cuda.so" "-Wl,--as-needed")
endif()
# Prefer the wheel's CUDA runtime (same soname as the toolkit's) so tailor and LibTorch share one.
file(GLOB _nv_libs LIST_DIRECTORIES true "${TAILOR_TORCH_DIR}/../nvidia/*/lib")
set(CMAKE_BUILD_RPATH "${_tl};${_nv_libs}")
set(CMAKE_INSTALL_RPATH "${_tl};${_nv_libs}")

# CUDA is optional and automatic: every .cu file builds when nvcc is found, even with no GPU present.
option(TAILOR_CUDA "Build CUDA kernels when nvcc is found" ON)
set(TAILOR_WITH_CUDA OFF)
if(TAILOR_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)  # A100, H100/H200, PTX for newer chips
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no C++20 flag for nvcc; .cu files need only 17
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TAILOR_WITH_CUDA ON)
  endif()
endif()

# Python with the reference implementations, used only by parity tests and benchmarks.
set(TAILOR_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH "Python with the reference stack")
