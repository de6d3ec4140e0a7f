# Generated from click's shell completion by `python -m ssechat._docgen` (make docs).
# Do not edit. It asks ssechat itself what to complete at TAB time.
_ssechat_completion() {
    local IFS=$'\n'
    local response

    response=$(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD _SSECHAT_COMPLETE=bash_complete $1)

    for completion in $response; do
        IFS=',' read type value <<< "$completion"

        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=($value)
        fi
    done

    return 0
}

_ssechat_completion_setup() {
    complete -o nosort -F _ssechat_completion ssechat
}

_ssechat_completion_setup;
