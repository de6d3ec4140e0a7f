# Generated from click's shell completion by `python -m ssechat._docgen` (make docs).
# Do not edit. It asks ssechat itself what to complete at TAB time.
function _ssechat_completion;
    set -l response (env _SSECHAT_COMPLETE=fish_complete COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -t) ssechat);

    for completion in $response;
        set -l metadata (string split "," $completion);

        if test $metadata[1] = "dir";
            __fish_complete_directories $metadata[2];
        else if test $metadata[1] = "file";
            __fish_complete_path $metadata[2];
        else if test $metadata[1] = "plain";
            echo $metadata[2];
        end;
    end;
end;

complete --no-files --command ssechat --arguments "(_ssechat_completion)";
