# Warnings (as errors unless G4_WERROR=OFF) and the sanitizer configuration.
function(g4_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                              -Wformat=2 -Wimplicit-fallthrough -Wmissing-declarations>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${G4_WERROR}>>:-Werror>
    # GCC 12 reports false -Wrestrict positives inside libstdc++'s std::string at -O2 (GCC bug 105329).
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-restrict>)
endfunction()

if(G4_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=address,undefined>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=all>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=address,undefined)
endif()
