# The linkage rule of the vector kernel families (src/kernels/reduce_kernels.hpp), checked on the
# built library: the objects compiled with ISA flags (reduce_avx2, reduce_avx512,
# reduce_avx512bf16) may define no external or weak symbol but their fill*Kernels entry point.
# Any other one (an inline function or template of another header, say std::min) could be the
# copy the linker keeps for every caller, AVX-512 instructions included, on any CPU.
#
#   cmake -DNM=<nm> -DLIB=<libplexus_kernels.a> -P check_isa_symbols.cmake
execute_process(COMMAND "${NM}" -C --defined-only --extern-only "${LIB}"
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${LIB} (exit ${rc}): ${err}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(member "")
set(bad "")
set(entries "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ ]+\\.o):$")
    set(member "${CMAKE_MATCH_1}")
  elseif(member MATCHES "^reduce_avx[0-9a-z]*\\.cpp\\.o$" AND line MATCHES "^[0-9a-f]* *[A-Za-z] (.*)$")
    set(sym "${CMAKE_MATCH_1}")
    if(sym MATCHES "^plexus::kernels::fill(Avx2|Avx512|Avx512Bf16)Kernels\\(")
      list(APPEND entries "${CMAKE_MATCH_1}")
    else()
      string(APPEND bad "\n  ${member}: ${line}")
    endif()
  endif()
endforeach()
if(NOT bad STREQUAL "")
  message(FATAL_ERROR "ISA-specific kernel objects define symbols the linker could pick for "
    "callers on CPUs without that ISA; keep them in an anonymous namespace and call no inline "
    "function of another header (see src/kernels/reduce_kernels.hpp):${bad}")
endif()
list(SORT entries)
if(NOT entries STREQUAL "Avx2;Avx512;Avx512Bf16")
  message(FATAL_ERROR "expected the entry points fillAvx2Kernels, fillAvx512Kernels and "
    "fillAvx512Bf16Kernels in ${LIB}, found: '${entries}' (nm output:\n${out})")
endif()
message(STATUS "ISA objects export only: ${entries}")
