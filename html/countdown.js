(function () {
    var hint = document.getElementById('sms-wait'),
        send = document.getElementById('sms-send'),
        left, count;

    if (!hint || !send || !hint.firstElementChild) {
        return;
    }

    left = parseInt(hint.getAttribute('data-wait'), 10);
    count = hint.firstElementChild;

    function tick() {
        if (!(left > 0)) {
            send.disabled = false;
            hint.textContent = hint.getAttribute('data-ready');
            return;
        }

        send.disabled = true;
        count.textContent = String(left);
        left--;
        setTimeout(tick, 1000);
    }

    tick();
}());
