# Man pages for the command-line tools, made from their --help with help2man (Debian package
# help2man) when it is installed: build/man/man1/TOOL.1, installed with the tools (plexus-tools).
# Without help2man no page is made and the build says so once.
# Sanitizer and fuzzer builds make none (their tools are not for installing).
find_program(PLEXUS_HELP2MAN help2man)
if(NOT PLEXUS_SANITIZE STREQUAL "" OR PLEXUS_FUZZ)
  set(PLEXUS_HELP2MAN "")
elseif(NOT PLEXUS_HELP2MAN)
  message(STATUS "help2man not found: no man pages (apt-get install help2man)")
endif()
add_custom_target(plexus_man_pages ALL)

# plexus_man_page(TARGET "one-line description")
function(plexus_man_page target description)
  if(NOT PLEXUS_HELP2MAN)
    return()
  endif()
  set(page ${CMAKE_BINARY_DIR}/man/man1/${target}.1)
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man/man1
    COMMAND ${PLEXUS_HELP2MAN} --no-info --no-discard-stderr --version-string=${PROJECT_VERSION}
            --name=${description} --section=1 --output=${page} $<TARGET_FILE:${target}>
    DEPENDS ${target}
    COMMENT "Man page ${target}.1 (help2man)"
    VERBATIM)
  add_custom_target(${target}_man DEPENDS ${page})
  add_dependencies(plexus_man_pages ${target}_man)
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
endfunction()
